"""Documenting the typed dicts services return, so that each answer's shape is written once.

A service's ``TypedDict`` (``typing_extensions.TypedDict``, which pydantic reads on Python 3.11) can be named in
:func:`geo_service.api.openapi.answers` as it is: pydantic derives its JSON Schema, titled with the class name.
An answer that extends a GeoJSON typed dict (:mod:`geo_service.geojson`) is documented by :func:`extending`,
which adds the members it declares to the HTTP layer's GeoJSON model (:mod:`geo_service.api.models.geojson`),
so that ``Feature`` and ``FeatureCollection`` keep one schema each in ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any, NotRequired, get_args, get_origin, get_type_hints

from pydantic import BaseModel, create_model


def extending(answer: type, base: type[BaseModel], module: str, **refined: Any) -> type[BaseModel]:
    """A model named and described as the typed dict ``answer``: ``base`` (a GeoJSON model) with the members
    ``answer`` adds to it (a ``NotRequired`` member becomes an optional field), and the members named in
    ``refined`` documented by the type given there (a GeoJSON feature whose ``properties`` the HTTP layer
    names, where the typed dict can only say ``Feature``).

    Parameters
    ----------
    answer
        A ``TypedDict`` class that extends a GeoJSON typed dict.
    base
        The model documenting that GeoJSON object (its fields stay as they are).
    module
        The module the model is said to be defined in: where two schemas share a name, ``/openapi.json``
        qualifies them with it (``geo_service__api__models__life_circle__Coverage``).
    """
    fields: dict[str, Any] = {}
    for name, hint in get_type_hints(answer, include_extras=True).items():
        if name in refined:
            hint = NotRequired[refined[name]] if get_origin(hint) is NotRequired else refined[name]
        elif name in base.model_fields:
            continue
        if get_origin(hint) is NotRequired:
            fields[name] = (get_args(hint)[0], None)
        else:
            fields[name] = (hint, ...)
    model: type[BaseModel] = create_model(
        answer.__name__, __base__=base, __doc__=answer.__doc__, __module__=module, **fields
    )
    return model
