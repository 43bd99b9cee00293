"""Typed access to cursor results.

A store names the columns of each statement it runs in a :class:`typing.TypedDict` (``IncidentRow``,
``StationRow`` ...) and returns its rows as that type with :func:`all_as` / :func:`one_as`: the rows stay the
cursor's dicts (nothing is copied or checked at run time), and the type checker knows each column and its type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import psycopg2.extras

_Row = TypeVar("_Row", covariant=True)
_Typed = TypeVar("_Typed")


class FetchesRows(Protocol[_Row]):
    def fetchone(self) -> _Row | None: ...


def fetch_one(cur: FetchesRows[_Row]) -> _Row:
    """The row of a statement that always returns one (an aggregate, ``SELECT EXISTS``, ``INSERT ...
    RETURNING`` without ``ON CONFLICT``); :class:`LookupError` if it returned none, which is a bug."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def all_as(cur: DictCursor, row_type: type[_Typed]) -> list[_Typed]:
    """Every row of the statement just run, as ``row_type`` (a TypedDict naming its columns)."""
    return cast("list[_Typed]", cur.fetchall())


def one_as(cur: DictCursor, row_type: type[_Typed]) -> _Typed | None:
    """The next row of the statement just run as ``row_type`` (None: no row)."""
    return cast("_Typed | None", cur.fetchone())


def all_with_wkb(cur: Any, row_type: type[_Typed]) -> list[_Typed]:
    """Every row of the statement just run as ``row_type``, its ``wkb`` column (when not null) as bytes rather
    than the driver's memoryview: shapely reads either, but rows are compared, hashed and cached."""
    rows = [dict(r) for r in cur.fetchall()]
    for row in rows:
        if row.get("wkb") is not None:
            row["wkb"] = bytes(row["wkb"])
    return cast("list[_Typed]", rows)


def first_as(cur: DictCursor, row_type: type[_Typed]) -> _Typed:
    """The row of a statement that always returns one, as ``row_type`` (see :func:`fetch_one`)."""
    return cast("_Typed", fetch_one(cur))


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
