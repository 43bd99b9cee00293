"""schemathesis hooks of the fuzz test (``SCHEMATHESIS_HOOKS=tests.api.fuzz_hooks``, loaded by ``st run``).

The feature and grid writes (``POST``/``PUT`` of grids, stations and facilities, the grid uploads) declare the
same body schema under ``application/json`` and ``application/geo+json``, and their routers read both with one
JSON parser. The coverage phase enumerates its boundary bodies once per media type, so the second copy repeated
2,017 of the run's 7,889 cases (26 %; 1,070 of them the two uploads') with only the Content-Type changed.
Coverage cases of an alias whose operation declares the same schema under ``application/json`` are dropped; the
examples and fuzzing phases still send the alias.
"""

from __future__ import annotations

import schemathesis
from schemathesis import Case, HookContext
from schemathesis.generation.meta import CoveragePhaseData

# media type -> the type it names the same JSON body as (the routers read both alike)
JSON_ALIASES = {"application/geo+json": "application/json"}


def _same_schema_as_json(context: HookContext, media_type: str) -> bool:
    """Whether the operation declares ``media_type``'s body schema also under its JSON alias target."""
    if context.operation is None or media_type not in JSON_ALIASES:
        return False
    schemas = {body.media_type: body.definition for body in context.operation.body}
    target = JSON_ALIASES[media_type]
    return target in schemas and schemas[target] == schemas.get(media_type)


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    meta = case.meta
    in_coverage = meta is not None and isinstance(meta.phase.data, CoveragePhaseData)
    return not (in_coverage and case.media_type and _same_schema_as_json(context, case.media_type))
