"""The published OpenAPI document, with the error bodies the service really sends.

FastAPI documents its own ``HTTPValidationError`` (``detail: [{"loc": [...], "msg", "type"}]``) for 422; the
service answers every error with ``{"code", "message", "detail", ...}`` (:mod:`geo_service.api.errors`), the
validation problems with a dotted ``loc`` string and their own ``code`` and ``message``. This module rewrites
the generated document so that clients and contract tests read what the service sends: the 422 schema, and
the other 4xx / 5xx answers every operation can give (400 malformed, 401/403 auth, 404, 409, 412, 413, 415,
428, 429, 503). Open311 routes answer errors in the GeoReport v2 shape (``[{"code", "description"}]``,
status 400 for bad input) and are documented so (:class:`geo_service.api.models.open311.Open311Errors`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from geo_service.api.errors import FieldProblem
from geo_service.api.models.open311 import Open311Errors
from geo_service.networks.answers import CellProblem

_REF = "#/components/schemas/"

SCHEMAS: dict[str, dict[str, Any]] = {
    "ValidationProblem": {
        "title": "ValidationProblem",
        "type": "object",
        "description": "One field of the request that is not valid.",
        "required": ["loc", "msg", "type", "code", "message"],
        "properties": {
            "loc": {"type": "string", "description": "where: 'query.lon', 'body.points.3', 'path.code'"},
            "msg": {"type": "string", "description": "English text from the validator"},
            "type": {"type": "string", "description": "the validator's error type, e.g. int_parsing"},
            "code": {"type": "string", "description": "stable catalogue code, e.g. validation.int_parsing"},
            "message": {"type": "string", "description": "the problem in the negotiated language"},
        },
    },
    "GridProblem": {
        "title": "GridProblem",
        "type": "object",
        "description": "One problem of a grid write or dry run (invalid ring, overlap, outside parent, gap ...).",
        "required": ["problem", "message"],
        "properties": {
            "problem": {"type": "string", "description": "stable id: overlap, gap, sliver, invalid_ring ..."},
            "message": {"type": "string", "description": "the problem in the negotiated language"},
            "code": {"type": "string", "description": "the grid code concerned"},
            "codes": {"type": "array", "items": {"type": "string"}},
            "feature": {"type": "integer", "description": "0-based index of the feature in the request"},
            "area_m2": {"type": "number"},
            "location": {
                "anyOf": [{"$ref": _REF + "Geometry"}, {"type": "null"}],
                "description": "where: a GeoJSON geometry (WGS-84)",
            },
        },
    },
    "ErrorBody": {
        "title": "ErrorBody",
        "type": "object",
        "description": "Every error of the service: a stable code, a message in the caller's language "
        "(Accept-Language; zh-CN by default), and the English detail or a list of problems. Some errors add "
        "fields (candidates, errors, ...).",
        "required": ["code", "message", "detail"],
        "properties": {
            "code": {"type": "string", "description": "stable dotted code, e.g. grid.overlap"},
            "message": {"type": "string"},
            "detail": {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "array",
                        "items": {
                            "anyOf": [
                                {"$ref": _REF + "ValidationProblem"},
                                {"$ref": _REF + "GridProblem"},
                                {"$ref": _REF + "CellProblem"},
                                {"$ref": _REF + "FieldProblem"},
                            ]
                        },
                    },
                ]
            },
        },
        "additionalProperties": True,
    },
}


_BODY_MODELS: dict[str, type[BaseModel]] = {}
# the problems an error's detail lists besides ValidationProblem and GridProblem (written as JSON Schema above)
_PROBLEMS: dict[str, type] = {"CellProblem": CellProblem, "FieldProblem": FieldProblem}


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A reference to ``model``'s schema, which :func:`rewrite` adds to the components: for a request body
    that a route reads itself and documents by a pydantic model (that does not validate it)."""
    _BODY_MODELS[model.__name__] = model
    return {"$ref": _REF + model.__name__}


JSON_MEDIA_TYPES = ("application/json", "application/geo+json")


def feature_body(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``requestBody`` of a route that takes one GeoJSON Feature (as JSON or GeoJSON) and checks it in
    its service, documented by ``model`` (a :class:`geo_service.api.models.geojson.FeatureInput`)."""
    media = {"schema": model_schema(model)} | ({"example": example} if example else {})
    return {"required": True, "content": {name: dict(media) for name in JSON_MEDIA_TYPES}}


def model_body(model: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    """The ``requestBody`` of a route that reads its body itself (to parse it off the event loop) but is
    documented by a pydantic model, as FastAPI would document a body parameter."""
    body: dict[str, Any] = {
        "required": True,
        "content": {"application/json": {"schema": model_schema(model)}},
    }
    if description:
        body["description"] = description
    return body


def answers(
    model: type[Any], status: int = 200, description: str = "Successful Response"
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose answer ``model`` (a pydantic model, or a service's typed dict: see
    :mod:`geo_service.api.models.typed`) describes. The route keeps returning its plain data,
    serialised as before: the model documents the body (and the fuzz test checks answers against it), it
    does not re-shape it (key order, integers, absent optional members stay as they are)."""
    return {status: {"model": model, "description": description}}


BINARY: dict[str, Any] = {"type": "string", "format": "binary"}


def binary_answer(description: str, *media_types: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers bytes (a tile, an image, a PDF): each media type's body is a
    binary string, so that ``/openapi.json`` has no success without a schema."""
    content = {media: {"schema": dict(BINARY)} for media in media_types}
    return {status: {"description": description, "content": content}}


def _error_response(description: str, schema: str = "ErrorBody") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}


def _open311_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": _REF + "Open311Errors"}},
            "application/xml": {"schema": {"type": "string"}},
        },
    }


def rewrite(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the real error schemas (in place; returned for convenience)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(SCHEMAS)
    models: dict[str, type[BaseModel]] = {**_BODY_MODELS, "Open311Errors": Open311Errors}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template=_REF + "{model}")
        components.update(schema.pop("$defs", {}))
        components[name] = schema
    for name, typed in _PROBLEMS.items():
        schema = TypeAdapter(typed).json_schema(ref_template=_REF + "{model}")
        for defined, part in schema.pop("$defs", {}).items():
            components.setdefault(defined, part)  # a GeoJSON Geometry: the one the answers name already
        components[name] = schema
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            _only_models(responses)
            _only_refs(operation.get("requestBody") or {})
            if path.startswith("/open311/"):
                responses.pop("422", None)
                responses.setdefault("4XX", _open311_error("GeoReport v2 error document"))
                responses.setdefault("5XX", _open311_error("service unavailable"))
                continue
            if "422" in responses:
                responses["422"] = _error_response("invalid input: the problems, each with its location")
            responses.setdefault(
                "4XX", _error_response("bad request, authentication, not found, conflict, ...")
            )
            responses.setdefault("5XX", _error_response("the database or a needed resource is unavailable"))
    return document


def _only_models(responses: dict[str, Any]) -> None:
    """A success documented by :func:`answers` is merged by FastAPI into the schema it derives from the
    route's return annotation (``dict[str, Any]``: any object); keep only the model."""
    for status, response in responses.items():
        if status.startswith("2"):
            _only_refs(response)


def _only_refs(described: dict[str, Any]) -> None:
    """Each schema of ``described`` (an answer or a request body) that names a model keeps only the name:
    FastAPI merges what ``openapi_extra`` or ``responses=`` say into what it derived from the annotations
    (``Any``: ``{"title": "Feature"}``)."""
    for media in (described.get("content") or {}).values():
        schema = media.get("schema") or {}
        if "$ref" in schema and len(schema) > 1:
            media["schema"] = {"$ref": schema["$ref"]}


def install(app: FastAPI) -> None:
    """Serve the rewritten document at ``/openapi.json`` (built once, on first request)."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = rewrite(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
