"""Helpers for the network tests: a unified hierarchy with a lattice of grids laid out in metres (near Beijing,
far from the Helsinki data), department networks as lattices of cells, and homes written to ``residences``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.grids.conftest import feature, hierarchy, lonlat, origin_for, rect


def unified(
    client: TestClient, headers: dict[str, str], prefix: str, xs: Sequence[float], ys: Sequence[float]
) -> dict[str, Any]:
    """District ``prefix`` → street → community covering [xs[0], xs[-1]] × [ys[0], ys[-1]] metres, split into
    grids along ``xs`` × ``ys`` (codes ``<community>001``… west→east, south→north). Returns the codes."""
    origin = origin_for(prefix)
    size = max(xs[-1], ys[-1])
    assert xs[0] == 0 and ys[0] == 0 and xs[-1] == ys[-1] == size
    features = hierarchy(prefix, size)
    community = f"{prefix}001001"
    codes = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            code = f"{community}{len(codes) + 1:03d}"
            codes.append(code)
            features.append(
                feature(code, rect(xs[i], ys[j], xs[i + 1], ys[j + 1], origin), "grid", community)
            )
    response = client.post(
        "/api/grids/import", json={"type": "FeatureCollection", "features": features}, headers=headers
    )
    assert response.status_code == 200, response.text
    return {"origin": origin, "community": community, "grids": codes}


def lattice(
    prefix: str, xs: Sequence[float], ys: Sequence[float], code_prefix: str = "C", **props: Any
) -> list[dict[str, Any]]:
    """Network cells along ``xs`` × ``ys`` metres at the origin of ``prefix``, codes ``<code_prefix>-i-j``."""
    origin = origin_for(prefix)
    out = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            code = f"{code_prefix}-{i}-{j}"
            out.append(
                {
                    "type": "Feature",
                    "geometry": rect(xs[i], ys[j], xs[i + 1], ys[j + 1], origin),
                    "properties": {"code": code, "name": f"单元{i}-{j}", "ward": f"W{i}", **props},
                }
            )
    return out


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def insert_homes(db: Database, prefix: str, homes_m: Sequence[tuple[float, float, float]]) -> None:
    """Residences at (x, y) metres from the origin of ``prefix`` with ``households`` each (as reported)."""
    origin = origin_for(prefix)
    with db.cursor() as cur:
        for x, y, households in homes_m:
            lon, lat = lonlat(x, y, origin)
            cur.execute(
                """INSERT INTO residences (building, households_est, households_reported, geom)
                   VALUES ('apartments', 0, %s, ST_SetSRID(ST_Point(%s, %s), 4326))""",
                (int(households), lon, lat),
            )


def count_rows(db: Database) -> tuple[int, int, int]:
    """(networks, versions, cells) rows."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM networks), (SELECT count(*) FROM network_versions), "
            "(SELECT count(*) FROM network_cells)"
        )
        return tuple(cur.fetchone())  # type: ignore[return-value]
