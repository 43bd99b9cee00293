"""Bounded work on grid writes (issue 11, point 5): vertex caps per geometry and per request, checked before
any shape is built (a 1,000,000-vertex polygon used to take 33 s and 1.45 GB), and parsing and validation
off the event loop: /healthz keeps answering while a large validation runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import GridSettings, IncidentSettings
from tests.conftest import auth_headers, running_server
from tests.grids.conftest import feature, lonlat, origin_for, rect

HERE = origin_for("140101")


def circle(x_m: float, y_m: float, radius_m: float, n: int) -> dict[str, Any]:
    """A polygon of ``n`` vertices (plus the closing one) around (x_m, y_m) metres from HERE."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = [lonlat(x_m + radius_m * np.cos(a), y_m + radius_m * np.sin(a), HERE) for a in t]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@pytest.fixture(scope="module")
def capped(db: Database) -> Iterator[TestClient]:
    """A service whose grid settings (read once, at start-up) cap a geometry at 1000 positions and a request
    at 3000."""
    caps = GridSettings(max_vertices_per_geometry=1000, max_vertices_per_request=3000)
    app = create_app(db=db, incident_settings=IncidentSettings(escalation_enabled=False), grid_settings=caps)
    with TestClient(app) as client:
        yield client


def _count(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM areas")
        return int(cur.fetchone()[0])


def test_vertices_per_geometry(capped: TestClient, db: Database, planner_headers: dict[str, str]) -> None:
    before = _count(db)
    big = feature("LIM-1", circle(0, 0, 300, 1500))
    for path, body in (
        ("/api/grids", big),
        ("/api/grids/validate", {"type": "FeatureCollection", "features": [big]}),
        ("/api/grids/import", {"type": "FeatureCollection", "features": [big]}),
    ):
        response = capped.post(path, json=body, headers={**planner_headers, "Accept-Language": "en"})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "grid.too_many_vertices"
        assert "1501 positions; at most 1000" in response.json()["message"]
    small = capped.post(
        "/api/grids/validate", json=feature("LIM-2", circle(0, 0, 300, 900)), headers=planner_headers
    )
    assert small.status_code == 200, small.text
    assert _count(db) == before


def test_vertices_per_request(capped: TestClient, db: Database, planner_headers: dict[str, str]) -> None:
    before = _count(db)
    four = [feature(f"LIM-{i}", circle(700 * i, 0, 300, 900)) for i in range(4)]  # 3604 in all
    for path in ("/api/grids/validate", "/api/grids/import"):
        response = capped.post(
            path, json={"type": "FeatureCollection", "features": four}, headers=planner_headers
        )
        assert response.status_code == 422 and response.json()["code"] == "grid.too_many_vertices.request"
    # far over: refused from the bytes, before the body is parsed
    huge = {"type": "FeatureCollection", "features": [feature("LIM-9", circle(0, 0, 300, 50_000))]}
    response = capped.post("/api/grids/validate", json=huge, headers=planner_headers)
    assert response.status_code == 422 and response.json()["code"] == "grid.too_many_vertices.body"
    assert _count(db) == before


def test_vertices_of_an_uploaded_file(capped: TestClient, planner_headers: dict[str, str]) -> None:
    from geo_service.grids import io as area_io

    features = [feature(f"LIM-{i}", circle(700 * i, 0, 300, 900)) for i in range(4)]
    for f in features:
        f["properties"].update(version=None)
    gpkg = area_io.write_features(features, "gpkg")
    response = capped.post("/api/grids/validate", files={"file": ("big.gpkg", gpkg)}, headers=planner_headers)
    assert response.status_code == 422 and response.json()["code"] == "grid.too_many_vertices.request"


def test_vertices_of_a_network_import(capped: TestClient, planner_headers: dict[str, str]) -> None:
    """Another department's grid layer (多网合一) is a geometry input too: the same caps."""
    four = [feature(f"N-{i}", circle(700 * i, 0, 300, 900)) for i in range(4)]
    response = capped.post(
        "/api/networks/capped/import",
        json={"type": "FeatureCollection", "features": four},
        headers=planner_headers,
    )
    assert response.status_code == 422 and response.json()["code"] == "grid.too_many_vertices.request"
    one = [feature("N-9", circle(0, 0, 300, 1500))]
    response = capped.post(
        "/api/networks/capped/import",
        json={"type": "FeatureCollection", "features": one},
        headers=planner_headers,
    )
    assert response.status_code == 422 and response.json()["detail"][0]["problem"] == "too_many_vertices"
    assert capped.get("/api/networks/capped").status_code == 404


def _polls_while(http: httpx.Client, run: threading.Thread) -> list[tuple[float, float]]:
    """(sent at, seconds waited) of /healthz requests sent one after another until ``run`` ends."""
    polls = []
    while run.is_alive():
        sent = time.perf_counter()
        response = http.get("/healthz")
        assert response.status_code == 200
        polls.append((sent, time.perf_counter() - sent))
    return polls


@pytest.mark.parametrize("kind", ["vertices", "parse"])
def test_healthz_answers_while_a_large_validation_runs(db: Database, kind: str) -> None:
    """``vertices``: five boundaries of 99,000 vertices each (within the caps); ``parse``: a body whose cost
    is mostly its JSON (a property of 1.5 million numbers). While either is parsed and validated, /healthz
    keeps answering at once: the longest wait is a small part of the validation's own time (parsing on the
    event loop made /healthz wait for the whole parse)."""
    if kind == "vertices":
        features = [feature(f"HZ-{i}", circle(3000 * i, 0, 1000, 99_000)) for i in range(5)]
    else:
        samples = np.random.default_rng(1).uniform(0, 100, 1_500_000).round(6).tolist()
        features = [feature("HZ-P", rect(0, 0, 100, 100, HERE), samples=samples)]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    headers = {**auth_headers(db, "planner"), "Content-Type": "application/json"}
    app = create_app(db=db, incident_settings=IncidentSettings(escalation_enabled=False))
    answer: dict[str, Any] = {}
    with running_server(app) as base, httpx.Client(base_url=base, timeout=600) as http:
        http.get("/healthz")  # a warm connection for the polls

        def validate() -> None:
            with httpx.Client(base_url=base, timeout=600) as own:
                began = time.perf_counter()
                response = own.post("/api/grids/validate", content=body, headers=headers)
                answer.update(
                    status=response.status_code,
                    text=response.text[:300],
                    began=began,
                    seconds=time.perf_counter() - began,
                )

        run = threading.Thread(target=validate)
        run.start()
        polls = _polls_while(http, run)
        run.join()
    assert answer["status"] == 200, answer["text"]
    waits = [w for sent, w in polls if sent >= answer["began"]]
    print(
        f"\n{kind}: validation {answer['seconds']:.2f} s; {len(waits)} /healthz, longest {max(waits):.3f} s"
    )
    assert len(waits) >= 5, "/healthz answered while the validation ran"
    assert max(waits) < 0.25 * answer["seconds"], "no /healthz waited for the parse or the validation"
