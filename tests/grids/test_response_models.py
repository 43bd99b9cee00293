"""The answers of the grids routes match the response models /openapi.json publishes for them, and the
models only describe: the bodies keep the keys and values they had (SPEC.md), nothing is added or dropped."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.api.routers import grids as grids_router
from tests.documented import answered
from tests.grids.conftest import hierarchy

DISTRICT = "110105"


def _validator(document: dict[str, Any], path: str, method: str, status: str) -> jsonschema.Validator:
    """A validator for the ``status`` answer of ``method path`` (its refs point into the document's components)."""
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_every_json_route_of_grids_documents_its_model() -> None:
    document = create_app().openapi()
    json_routes = [r for r in grids_router.router.routes if r.name not in ("export_grids", "delete_grid")]
    assert json_routes
    for route in json_routes:
        path = route.path_format.replace(":gridcode", "")
        for method in route.methods:
            responses = document["paths"][path][method.lower()]["responses"]
            success = next(s for s in responses if s.startswith("2"))
            schema = responses[success]["content"]["application/json"]["schema"]
            assert set(schema) == {"$ref"}, (method, path, schema)  # a named model, not "any object"


def test_answers_match_their_models_unchanged(client: TestClient, planner_headers: dict[str, str]) -> None:
    document = client.get("/openapi.json").json()
    imported = client.post(
        "/api/grids/import",
        json={"type": "FeatureCollection", "features": hierarchy(DISTRICT)},
        headers=planner_headers,
    )
    assert imported.status_code == 200, imported.text
    answered(document, "/api/grids/import", "post", imported)
    assert list(imported.json()) == [
        "created",
        "updated",
        "restored",
        "unchanged",
        "snapped_vertices",
        "count",
    ]

    listed = client.get("/api/grids").json()
    _validator(document, "/api/grids", "get", "200").validate(listed)
    assert len(listed["features"]) == imported.json()["count"]
    code = listed["features"][-1]["id"]

    one = client.get(f"/api/grids/{code}")
    _validator(document, "/api/grids/{code}", "get", "200").validate(one.json())
    # only a closed version carries closed_by / closed_change: a current one has no such keys, not nulls
    assert "closed_by" not in one.json()["properties"] and one.json()["properties"]["valid_to"] is None
    assert one.headers["ETag"] == f'"{one.json()["properties"]["version"]}"'

    feature = {**one.json(), "properties": {"name": "改名网格"}}
    put = client.put(
        f"/api/grids/{code}", json=feature, headers={**planner_headers, "If-Match": one.headers["ETag"]}
    )
    assert put.status_code == 200, put.text
    answered(document, "/api/grids/{code}", "put", put)
    assert list(put.json()) == ["id", "code", "version", "change", "snapped_vertices", "feature"]

    history = client.get(f"/api/grids/{code}/history").json()
    _validator(document, "/api/grids/{code}/history", "get", "200").validate(history)
    closed = history["features"][0]["properties"]
    assert closed["valid_to"] is not None and closed["closed_change"] == "update"

    stats = answered(document, "/api/areas/{code}/stats", "get", client.get(f"/api/areas/{code}/stats"))

    # the model is the contract: a body that lost a member, or changed a type, no longer matches
    broken = {**stats, "staffing_gap": "many"}
    assert not _validator(document, "/api/areas/{code}/stats", "get", "200").is_valid(broken)
    del broken["staffing_gap"]
    assert not _validator(document, "/api/areas/{code}/stats", "get", "200").is_valid(broken)
