"""/openapi.json documents every answer: each JSON success names a response model (no "any object"), and the
models are real JSON Schemas that refuse a body of the wrong shape. The fuzz test (test_fuzz.py) checks the
live answers against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from tests.documented import answered


def _successes(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (method, path, status, response)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
    ]


def test_every_json_answer_names_its_model() -> None:
    document = create_app().openapi()
    successes = _successes(document)
    assert len({(m, p) for m, p, _, _ in successes}) == sum(len(ops) for ops in document["paths"].values())
    unnamed = [
        (method, path, status)
        for method, path, status, response in successes
        if "application/json" in (response.get("content") or {})
        and set(response["content"]["application/json"]["schema"]) != {"$ref"}
    ]
    assert unnamed == []
    schemas = document["components"]["schemas"]
    for _, _, _, response in successes:
        for media in (response.get("content") or {}).values():
            ref = (media.get("schema") or {}).get("$ref")
            if ref is not None:
                assert ref.removeprefix("#/components/schemas/") in schemas, ref


def _validity(document: dict[str, Any]) -> Callable[[str, Any], bool]:
    """Whether a body is valid as the component named, in ``document``."""
    components = {"components": document["components"]}

    def valid(name: str, body: Any) -> bool:
        return jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", **components}
        ).is_valid(body)

    return valid


def _typed(schema: dict[str, Any] | None) -> bool:
    """A schema that says what the body is: a named model, or a type that is not a bare object."""
    schema = schema or {}
    return "$ref" in schema or "properties" in schema or schema.get("type") not in (None, "object")


# (method, path, media type): answers or bodies documented without a schema, on purpose, with the reason
UNTYPED: dict[tuple[str, str, str], str] = {}


def test_every_answer_and_request_body_has_a_schema() -> None:
    """Every 2xx answer with a body, binary ones included (tiles, images, PDFs: a binary string), and every
    request body names what it is: no "any object" and no missing schema."""
    document = create_app().openapi()
    untyped = [
        (method, path, media)
        for method, path, _, response in _successes(document)
        for media, content in (response.get("content") or {}).items()
        if not _typed(content.get("schema"))
    ]
    untyped += [
        (method, path, media)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for media, content in (operation.get("requestBody") or {}).get("content", {}).items()
        if not _typed(content.get("schema"))
    ]
    assert sorted(set(untyped) - set(UNTYPED)) == []
    binary = {"type": "string", "format": "binary"}
    tile = document["paths"]["/tiles/{layers}/{z}/{x}/{y}.pbf"]["get"]["responses"]["200"]["content"]
    assert tile == {"application/vnd.mapbox-vector-tile": {"schema": binary}}
    # an error's detail: the English text, or a list of problems each of a named shape
    text, listed = document["components"]["schemas"]["ErrorBody"]["properties"]["detail"]["anyOf"]
    assert text == {"type": "string"} and all(set(item) == {"$ref"} for item in listed["items"]["anyOf"])


def test_feature_bodies_describe_what_the_routes_take() -> None:
    """The examples the routes show fit the request models, and so do the other shapes they take (a grid
    import: a collection, one feature or a list; the planner's own properties; a PUT without geometry)."""
    from geo_service.api.routers import grids, stations

    document = create_app().openapi()
    valid = _validity(document)
    area = grids.FEATURE_EXAMPLE
    assert valid("GridFeatureInput", area) and valid("StationInput", stations.EXAMPLE)
    assert valid("GridFeatureInput", {"type": "Feature", "properties": {"name": "新名", "note": {"a": [1]}}})
    crs = {"type": "name", "properties": {"name": "EPSG:4547"}}
    for upload in ({"type": "FeatureCollection", "features": [area], "crs": crs}, area, [area, area]):
        assert valid("GridUpload", upload)
    assert not valid("GridUpload", {"type": "FeatureCollection"})
    assert not valid("GridFeatureInput", {**area, "type": "FeatureCollection"})
    location = document["components"]["schemas"]["GridProblem"]["properties"]["location"]
    assert {"$ref": "#/components/schemas/Geometry"} in location["anyOf"]


def test_pages_config_and_facility_categories_match_their_schemas(client: TestClient) -> None:
    """/app/config.json and the facility categories, member by member (callback_states and satisfaction, which
    the pages have always read, were not in the config's schema)."""
    document = client.get("/openapi.json").json()
    config = answered(document, "/app/config.json", "get", client.get("/app/config.json"))
    path = "/api/facilities/categories"
    categories = answered(document, path, "get", client.get(path))["categories"]
    assert config["callback_states"] == ["resolved", "verified"]
    assert "from" in config["incident_transitions"][0]
    assert {"id", "name_zh", "name_en"} == set(categories[0]) and len(categories) > 5


def test_models_refuse_bodies_of_the_wrong_shape() -> None:
    valid = _validity(create_app().openapi())

    located = {"grid": None, "ancestors": [], "distance_to_boundary_m": None, "nearest_grid": None}
    located |= {"lon": 1.0, "lat": 2.0}
    assert valid("Located", located)
    assert not valid("Located", {**located, "ancestors": None})
    assert not valid("Located", {k: v for k, v in located.items() if k != "grid"})
    assert valid("Health", {"status": "ok"}) and not valid("Health", {"status": "down"})
    contour = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": []},
        "properties": {"minutes": 5, "area_m2": 1250.0},  # every contour measures its area
    }
    isochrones = {"type": "FeatureCollection", "features": [contour], "origins": [[24.94, 60.17]]}
    assert valid("Isochrones", isochrones)
    assert not valid("Isochrones", {**isochrones, "type": "Feature"})
    assert not valid("Isochrones", {**isochrones, "features": [{"type": "Point"}]})
    assert not valid("Isochrones", {k: v for k, v in isochrones.items() if k != "origins"})
    assert not valid("Isochrones", {**isochrones, "features": [{**contour, "properties": {"minutes": 5}}]})


def test_every_error_answer_names_the_error_body() -> None:
    """Every operation documents its 4xx and 5xx answers, each JSON one by the body the service sends: the
    ``ErrorBody`` everywhere, the GeoReport v2 error list (``Open311Errors``) under /open311."""
    document = create_app().openapi()
    operations = [(p, m, op) for p, ops in document["paths"].items() for m, op in ops.items()]
    wrong = []
    for path, method, operation in operations:
        body = "Open311Errors" if path.startswith("/open311/") else "ErrorBody"
        responses = operation["responses"]
        if not {"4XX", "5XX"} <= set(responses):
            wrong.append((method, path, "4XX/5XX missing"))
        for status, response in responses.items():
            if status[0] not in "45":
                continue
            schema = response["content"]["application/json"]["schema"]
            if schema != {"$ref": f"#/components/schemas/{body}"}:
                wrong.append((method, path, status, schema))
    assert len(operations) > 100 and wrong == []
    for name in ("ErrorBody", "Open311Errors", "Open311Error"):
        assert name in document["components"]["schemas"]


def test_ogc_and_open311_answers_name_their_members() -> None:
    """The OGC API and Open311 documents are described member by member (not as "any object")."""
    schemas = create_app().openapi()["components"]["schemas"]

    def members(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    assert members("Landing") == {"title", "description", "links"}
    assert members("Collection") == {"id", "title", "description", "itemType", "crs", "extent", "links"}
    assert members("Items") == {"type", "features", "numberMatched", "numberReturned", "timeStamp", "links"}
    assert members("Queryables") == {"$schema", "$id", "type", "title", "properties"}
    assert members("ServiceRequest") >= {"service_request_id", "status", "lat", "long", "media_url"}
    assert members("ServiceAttribute") >= {"code", "datatype", "values"}
    assert members("CreatedRequest") == {"service_request_id", "service_notice", "account_id"}
    assert schemas["ServiceRequests"]["items"] == {"$ref": "#/components/schemas/ServiceRequest"}
    assert members("Open311Error") == {"code", "description"}
