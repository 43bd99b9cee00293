"""Answers against the schemas ``/openapi.json`` gives them: valid, and with no member the schema does not
name and none it requires missing, at every level the schema lists ``properties`` (a schema that says
nothing about an object's members, e.g. a feature's ``properties``, is not walked)."""

from __future__ import annotations

from typing import Any

import jsonschema

REF = "#/components/schemas/"


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].removeprefix(REF)]
    return schema


def _mismatches(schema: dict[str, Any], body: Any, components: dict[str, Any], at: str) -> list[str]:
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        fitting = [s for s in schema["anyOf"] if not _mismatches(s, body, components, at)]
        return [] if fitting else [f"{at}: fits no branch of anyOf"]
    if schema.get("type") == "null":
        return [] if body is None else [f"{at}: not null"]
    if isinstance(body, list) and "items" in schema:
        return [
            m
            for i, item in enumerate(body)
            for m in _mismatches(schema["items"], item, components, f"{at}[{i}]")
        ]
    if not isinstance(body, dict) or "properties" not in schema:
        return []
    named, required = set(schema["properties"]), set(schema.get("required", ()))
    out = [f"{at}.{key}: not in the schema" for key in sorted(set(body) - named)]
    out += [f"{at}.{key}: required, missing" for key in sorted(required - set(body))]
    for key in sorted(set(body) & named):
        out += _mismatches(schema["properties"][key], body[key], components, f"{at}.{key}")
    return out


def mismatches(document: dict[str, Any], name: str, body: Any) -> list[str]:
    """What is wrong with ``body`` as the component ``name`` of the OpenAPI ``document`` (empty: nothing)."""
    components = document["components"]["schemas"]
    validator = jsonschema.Draft202012Validator({"$ref": REF + name, "components": document["components"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    return errors + _mismatches({"$ref": REF + name}, body, components, name)


def response_schema(document: dict[str, Any], path: str, method: str, status: str) -> str:
    """The component name the document gives the JSON answer of ``method path`` with ``status``."""
    content = document["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]["$ref"].removeprefix(REF)


def answered(document: dict[str, Any], path: str, method: str, response: Any, status: int = 200) -> Any:
    """The JSON body of ``response`` (an HTTP answer to ``method path``, the path as the document names it),
    once its status is ``status`` and its members are those of the schema the document gives that answer."""
    assert response.status_code == status, response.text
    body = response.json()
    assert mismatches(document, response_schema(document, path, method, str(status)), body) == [], path
    return body
