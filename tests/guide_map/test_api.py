"""The guide-map routes end to end on the Helsinki extract: real store, real walking engine, real render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.guide_map import render
from geo_service.guide_map.text import TEXT
from tests.guide_map.conftest import (
    DEMO,
    FAR,
    WITH_CENTRE,
    WITHOUT_CENTRE,
    pdf_info,
    pdf_text,
    png_pixels,
    squash,
)


@pytest.fixture(scope="module")
def community_pdf(guide_client: TestClient) -> bytes:
    response = guide_client.get(f"/api/areas/{WITH_CENTRE}/guide-map.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def test_png_is_a4_at_300_dpi_with_content(guide_client: TestClient) -> None:
    response = guide_client.get(f"/api/areas/{WITH_CENTRE}/guide-map.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    pixels = png_pixels(response.content)
    assert pixels.shape[:2] == (3508, 2480)
    rgb = (pixels[..., :3] * 255).astype(np.uint8)
    assert rgb.std() > 15
    assert len(np.unique(rgb[::9, ::9].reshape(-1, 3), axis=0)) > 200  # streets, buildings, icons, text

    def share(hex_colour: str, tolerance: int = 10) -> float:
        target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(rgb.astype(int) - target).max(axis=-1) <= tolerance).mean())

    assert share(render.CIRCLE_EDGE) > 0.002, "no walking circle outline"
    assert share(render.BOUNDARY) > 0.0003, "no area boundary"
    assert share("#ffffff", 0) > 0.1  # the page is mostly white paper around the map, streets are white too
    # buildings from the basemap (light brown; some under the circle's tint, some outside it)
    assert share("#ddd4c6", 14) + share("#e5d0b5", 14) > 0.01, "no buildings drawn"


def test_pdf_is_one_a4_page(community_pdf: bytes, tmp_path: Path) -> None:
    assert community_pdf.startswith(b"%PDF-")
    info = pdf_info(community_pdf, tmp_path)
    assert info["Pages"] == "1"
    assert "A4" in info["Page size"], info["Page size"]


def test_pdf_legend_title_and_notes(community_pdf: bytes, tmp_path: Path) -> None:
    text = pdf_text(community_pdf, tmp_path)
    assert squash("测试社区甲 便民生活服务圈导视图") in text
    for key in ("legend", "boundary.community", "origin.community_center", "note.attribution"):
        assert squash(TEXT["zh"][key]) in text, key
    assert squash("15分钟步行范围") in text  # the circle is drawn and in the legend
    assert "社区服务中心" in text and "药店" in text  # categories present around Simonkatu
    # the start is one of the two community centres inside the area, and the footnote says so
    assert (
        "起点：区域内的社区服务中心「Luckan」" in text or "起点：区域内的社区服务中心「LillaLuckan」" in text
    )
    assert squash(TEXT["zh"]["note.demo"]) not in text  # not a demo area
    assert "EPSG:32635" in text  # UTM zone 35N


def test_english_switches_the_legend(guide_client: TestClient, tmp_path: Path) -> None:
    response = guide_client.get(f"/api/areas/{WITH_CENTRE}/guide-map.pdf", params={"lang": "en"})
    assert response.status_code == 200, response.text
    text = pdf_text(response.content, tmp_path)
    assert "Legend" in text and "Pharmacy" in text and "Communitycentre" in text
    assert squash("15-minute walk") in text
    assert "图例" not in text and "药店" not in text


def test_area_without_a_centre_starts_on_the_network(guide_client: TestClient, tmp_path: Path) -> None:
    response = guide_client.get(f"/api/areas/{WITHOUT_CENTRE}/guide-map.pdf")
    assert response.status_code == 200, response.text
    text = pdf_text(response.content, tmp_path)
    assert squash(TEXT["zh"]["note.origin.network_point"]) in text
    assert squash("15分钟步行范围") in text


def test_demo_area_says_demo_data(guide_client: TestClient, tmp_path: Path) -> None:
    response = guide_client.get(f"/api/areas/{DEMO}/guide-map.pdf")
    assert response.status_code == 200, response.text
    assert squash(TEXT["zh"]["note.demo"]) in pdf_text(response.content, tmp_path)


def test_area_far_from_any_network_renders_with_a_note(guide_client: TestClient, tmp_path: Path) -> None:
    pdf = guide_client.get(f"/api/areas/{FAR}/guide-map.pdf")
    assert pdf.status_code == 200, pdf.text
    text = pdf_text(pdf.content, tmp_path)
    assert squash(TEXT["zh"]["note.no_network"].format(minutes=15)) in text
    assert "EPSG:4548" in text  # inside China: the CGCS2000 Gauss–Krüger zone of 117°E
    png = guide_client.get(f"/api/areas/{FAR}/guide-map.png")
    assert png.status_code == 200
    assert png_pixels(png.content).shape[:2] == (3508, 2480)


def test_unknown_area_is_404(guide_client: TestClient) -> None:
    for fmt in ("png", "pdf"):
        response = guide_client.get(f"/api/areas/999999999999/guide-map.{fmt}")
        assert response.status_code == 404
        assert "999999999999" in response.json()["detail"]


def test_bad_parameters_are_422(guide_client: TestClient) -> None:
    assert (
        guide_client.get(f"/api/areas/{WITH_CENTRE}/guide-map.png", params={"lang": "fr"}).status_code == 422
    )
    assert (
        guide_client.get(f"/api/areas/{WITH_CENTRE}/guide-map.png", params={"minutes": 0}).status_code == 422
    )
