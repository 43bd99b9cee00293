"""Pydantic models of the service's answers, one module per area, for ``/openapi.json``.

Where a service already types its answer with a ``typing_extensions.TypedDict`` (life circles, OGC API,
Open311), the module names that typed dict instead of writing the shape again (:mod:`.typed`), so each shape
is written once.

They describe the bodies the routes send; routes declare them with :func:`geo_service.api.openapi.answers`,
which documents the model without re-serialising the answer through it (the bodies keep their exact keys,
order and numbers, which SPEC.md fixes and outside clients read). The schemathesis fuzz test
(``tests/api/test_fuzz.py``) checks every answer against these schemas.
"""
