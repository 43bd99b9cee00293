"""The error of a batch job: a catalogue code (``batch.*``, words in ``batch.po``) and its parameters."""

from __future__ import annotations

from typing import Any


class BatchError(Exception):
    """A batch job refused or stopped: a catalogue ``code`` and the values of its placeholders."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __reduce__(self) -> tuple[Any, ...]:  # survives the trip from a worker to the client
        return (_rebuild, (self.code, self.params))


def _rebuild(code: str, params: dict[str, Any]) -> BatchError:
    return BatchError(code, **params)
