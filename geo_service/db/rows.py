"""Typed access to cursor results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import psycopg2.extras

_Row = TypeVar("_Row", covariant=True)


class FetchesRows(Protocol[_Row]):
    def fetchone(self) -> _Row | None: ...


def fetch_one(cur: FetchesRows[_Row]) -> _Row:
    """The row of a statement that always returns one (an aggregate, ``SELECT EXISTS``, ``INSERT ...
    RETURNING`` without ``ON CONFLICT``); :class:`LookupError` if it returned none, which is a bug."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


if TYPE_CHECKING:

    class DictCursor(psycopg2.extras.RealDictCursor):
        """What :meth:`Database.cursor` gives: a cursor whose rows are ``dict[str, Any]`` (column → value).
        Its rows are :class:`~psycopg2.extras.RealDictRow`, a dict; the stubs call them ``OrderedDict[Any,
        Any]``, which keeps them from being passed on as the ``dict[str, Any]`` they are."""

        def fetchone(self) -> dict[str, Any] | None: ...  # type: ignore[override]
        def fetchmany(self, size: int | None = None) -> list[dict[str, Any]]: ...  # type: ignore[override]
        def fetchall(self) -> list[dict[str, Any]]: ...  # type: ignore[override]
        def __iter__(self) -> Iterator[dict[str, Any]]: ...  # type: ignore[override]
        def __next__(self) -> dict[str, Any]: ...  # type: ignore[override]

else:
    DictCursor = psycopg2.extras.RealDictCursor
