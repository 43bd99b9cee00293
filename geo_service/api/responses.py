"""Responses for large JSON bodies: encoded once by orjson (numpy arrays included), skipping FastAPI's
per-value ``jsonable_encoder`` walk, which costs more than computing an isochrone."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """``application/json`` rendered by orjson; numpy arrays and scalars are written as JSON numbers."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
