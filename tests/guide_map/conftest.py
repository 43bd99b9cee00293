"""Guide-map fixtures: a small area hierarchy over central Helsinki (and one community in Beijing, far from
any walking network), and helpers that read the PNG and PDF the service returns.

District 440101 (24.930–24.960 E, 60.160–60.182 N) → street 440101001 →
- community 440101001001 测试社区甲: holds the community centres Luckan and LillaLuckan (the start);
- community 440101001002 测试社区乙: no community centre (the start is a network point inside it);
- community 440101001003 演示社区丙: flagged as demo data, holds Helsinki City Hall (a community centre).
District 440102 in Beijing → street 440102001 → community 440102001001 远方社区: no network near.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from matplotlib import image

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from tests.conftest import DEMO_NOW

WITH_CENTRE, WITHOUT_CENTRE, DEMO, FAR = "440101001001", "440101001002", "440101001003", "440102001001"


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(
    code: str, name: str, level: str, parent: str | None, geometry: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    props = {"code": code, "name": name, "level": level, **extra}
    if parent:
        props["parent_code"] = parent
    return {"type": "Feature", "properties": props, "geometry": geometry}


def hierarchy() -> dict[str, Any]:
    helsinki, beijing = box(24.930, 60.160, 24.960, 60.182), box(116.390, 39.900, 116.400, 39.910)
    return {
        "type": "FeatureCollection",
        "features": [
            feature("440101", "测试区", "district", None, helsinki),
            feature("440101001", "测试街道", "street", "440101", helsinki),
            feature(WITH_CENTRE, "测试社区甲", "community", "440101001", box(24.934, 60.166, 24.940, 60.171)),
            feature(
                WITHOUT_CENTRE, "测试社区乙", "community", "440101001", box(24.944, 60.170, 24.950, 60.174)
            ),
            feature(
                DEMO, "演示社区丙", "community", "440101001", box(24.950, 60.165, 24.955, 60.170), demo=True
            ),
            feature("440102", "远方区", "district", None, beijing),
            feature("440102001", "远方街道", "street", "440102", beijing),
            feature(FAR, "远方社区", "community", "440102001", beijing),
        ],
    }


@pytest.fixture(scope="module")
def guide_client(db: Database, planner_headers: dict[str, str]) -> Iterator[TestClient]:
    """The service on a fixed clock: the date printed on a sheet (and so its ETag) is the same at any hour."""
    app = create_app(db=db, clock=ManualClock(DEMO_NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/grids/import", json=hierarchy(), headers=planner_headers)
        assert response.status_code in (200, 201), response.text
        yield client


def png_pixels(data: bytes) -> np.ndarray:
    """(height, width, channels) array of a PNG, values 0..1."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return image.imread(io.BytesIO(data), format="png")


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: install the Debian package poppler-utils (make setup)"
    return path


def squash(text: str) -> str:
    """``text`` without whitespace: pdftotext breaks lines and words wherever glyphs sit apart."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext reads it, without whitespace (compare with :func:`squash`-ed strings)."""
    pdf = tmp_path / "map.pdf"
    pdf.write_bytes(data)
    text = subprocess.run(
        [_poppler("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return squash(text)


def pdf_info(data: bytes, tmp_path: Path) -> dict[str, str]:
    pdf = tmp_path / "info.pdf"
    pdf.write_bytes(data)
    out = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
