"""API tokens and roles.

A token is 32 random bytes, URL-safe, prefixed ``gs_``. Only its SHA-256 is stored: tokens carry enough
entropy that a slow hash would add nothing but latency to every request. A token may carry an expiry (days from
its creation); an expired or revoked token is refused like an unknown one (401 ``auth.invalid_token``).

A process keeps the tokens presented to it lately (:class:`TokenCache`), so that a request with a known token
costs no round trip to the database; a revocation or any other change to a token is announced at commit and
drops them, in the process that made it from its very next request and in the others as soon as the database's
announcement reaches them (milliseconds; within the revision interval if it was lost).
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents (and writes out) these answers on Python 3.11

from geo_service.db import revisions
from geo_service.db.pool import Database, DatabaseUnavailable
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import message
from geo_service.store import audit, tokens
from geo_service.store.tokens import TokenRow

log = logging.getLogger(__name__)
ROLES = ("admin", "planner", "dispatcher", "worker")
MAX_GRIDS = 50  # a worker patrols a few grids; a longer list is a mistake
TOKEN_PREFIX = "gs_"
MAX_EXPIRES_DAYS = 3650


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token id, its role, its label and (a grid worker) the grids it is bound to."""

    token_id: int
    role: str
    name: str | None
    grids: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return self.name or f"token:{self.token_id}"

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles

    def covers_grid(self, grid_code: str | None) -> bool:
        """Whether this caller works the grid ``grid_code``: admins and dispatchers every grid, a worker only
        their own (a case with no grid, 属地兜底 to an area, belongs to no worker)."""
        if self.has_role("dispatcher"):
            return True
        return self.role == "worker" and grid_code is not None and grid_code in self.grids


class Whoami(TypedDict):
    token_id: int | None
    role: str
    name: str | None
    grids: Annotated[list[str], Field(description="a worker's grid codes (empty for the other roles)")]


class NewToken(TypedDict):
    token: Annotated[str, Field(description="the secret, shown this once")]
    role: str
    expires_days: int | None
    grids: list[str]


class Token(TypedDict):
    """A token as the admin sees it: never the secret."""

    id: int
    role: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: Annotated[bool, Field(description="neither revoked nor expired")]
    grids: list[str]


class Tokens(TypedDict):
    tokens: list[Token]


def whoami(principal: Principal) -> Whoami:
    return {
        "token_id": principal.token_id,
        "role": principal.role,
        "name": principal.name,
        "grids": list(principal.grids),
    }


def token_answer(row: TokenRow) -> Token:
    return {
        "id": row.id,
        "role": row.role,
        "name": row.name,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
        "active": row.revoked_at is None and not row.expired,
        "grids": list(row.grids),
    }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_token_request(role: str, expires_days: int | None, grids: Sequence[str] = ()) -> list[str]:
    """422 for a role that does not exist, an expiry outside 1…3650 days, a worker without grids or grids for
    another role. Returns the grid codes, trimmed and without repeats."""
    if role not in ROLES:
        raise InvalidInput("auth.unknown_role", role=role, roles=list(ROLES))
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise InvalidInput("auth.bad_expiry", days=expires_days, max_days=MAX_EXPIRES_DAYS)
    codes = list(dict.fromkeys(code.strip() for code in grids if code and code.strip()))
    if role == "worker" and not codes:
        raise InvalidInput("auth.worker_needs_grid")
    if role != "worker" and codes:
        raise InvalidInput("auth.grids_only_for_workers", role=message(f"role.{role}"))
    if len(codes) > MAX_GRIDS:
        raise InvalidInput("auth.too_many_grids", max_grids=MAX_GRIDS)
    return codes


def create_token(
    db: Database,
    role: str,
    name: str | None = None,
    actor: str = "cli",
    expires_days: int | None = None,
    grids: Sequence[str] = (),
) -> str:
    """Create a token for ``role`` (valid ``expires_days`` days, or until revoked) and return it; it cannot be
    shown again. A ``worker`` token is bound to ``grids`` (current grid codes). ``actor`` goes to the audit log.

    Raises
    ------
    InvalidInput
        See :func:`check_token_request`; or a grid code that names no current grid.
    """
    codes = check_token_request(role, expires_days, grids)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.cursor(dict_rows=False) as cur:
        unknown = sorted(set(codes) - tokens.current_grid_codes(cur, codes))
        if unknown:
            raise InvalidInput("auth.unknown_grids", grids=unknown)
        token_id = tokens.insert_token(cur, hash_token(token), role, name, expires_days, codes)
        audit.record(
            cur,
            actor=actor,
            role="admin",
            action="create",
            entity="api_token",
            entity_id=token_id,
            detail={"role": role, "name": name, "expires_days": expires_days, "grids": codes},
        )
    return token


@dataclass(frozen=True)
class _Known:
    principal: Principal
    until: float  # the cache's clock, seconds


class TokenCache:
    """The principals of tokens presented lately, per database, so that a request with a known token costs no
    round trip.

    An entry holds while the ``tokens`` revision stays what it was when its token was looked up: creating,
    revoking, removing a token or changing its expiry, role or grids bumps it at commit (migration
    ``0996_token_revision.sql``), and :mod:`geo_service.db.revisions` tells every process. It also ends when the
    token expires (by the database clock, as the lookup judged it) and after ``known_for_s`` at most, so that a
    token in use has its last use noted about as often as without the cache. Unknown tokens are not kept: each
    costs a lookup, and the rate limiter bounds how many an address may try."""

    MAX_TOKENS = 10_000  # per database; past it the kept tokens are dropped and found again

    def __init__(
        self, known_for_s: float = tokens.LAST_USED_RESOLUTION_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.known_for_s = known_for_s
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: weakref.WeakKeyDictionary[Database, tuple[int, dict[str, _Known]]] = (
            weakref.WeakKeyDictionary()
        )
        #: tokens looked up in the database (what a test or a benchmark counts)
        self.lookups = 0

    def peek(self, db: Database, token: str) -> Principal | None:
        """The principal of ``token`` if it is kept and still holds, known without I/O (the data revisions held in
        memory: what a caller on the event loop may ask); None when it has to be looked up."""
        values = revisions.watch_of(db).cached()
        if values is None:
            return None
        return self._kept(db, int(values.get("tokens", 0)), hash_token(token))

    def authenticate(self, db: Database, token: str) -> Principal | None:
        """The principal for a presented token, or None when it is unknown, revoked or expired: the kept one, else
        looked up (its use noted) and kept."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        token_hash = hash_token(token)
        # read before the lookup: a change committed after it moves the revision past what the entry is kept under
        revision = revisions.watch_of(db).revision("tokens")
        kept = self._kept(db, revision, token_hash)
        if kept is not None:
            return kept
        with db.cursor(dict_rows=False) as cur:
            found = tokens.find_token(cur, token_hash)
        self.lookups += 1
        if found is None:
            return None
        if found.stale_use:
            _note_use(db, found.id)
        principal = _principal(found)
        left_s = math.inf if found.seconds_left is None else found.seconds_left
        self._keep(db, revision, token_hash, _Known(principal, self._clock() + min(self.known_for_s, left_s)))
        return principal

    def authenticate_anywhere(self, db: Database, token: str) -> Principal | None:
        """:meth:`authenticate`, or while the primary is out of reach, the token looked up on its hot standby
        (``db.replica``), so that reads the standby serves go on for signed-in callers too. The standby holds
        every token change the primary shipped: a revocation in its very last instants may be missing, as it
        would be after a failover. Such a lookup is neither kept nor noted as a use (a standby takes no writes).
        """
        try:
            return self.authenticate(db, token)
        except DatabaseUnavailable:
            standby = db.standby
            if standby is None:
                raise
            log.debug("the primary is out of reach: token checked on the standby")  # the pool logs the outage
            with standby.cursor(dict_rows=False) as cur:
                found = tokens.find_token(cur, hash_token(token))
            self.lookups += 1
            return None if found is None else _principal(found)

    def _kept(self, db: Database, revision: int, token_hash: str) -> Principal | None:
        slot = self._slots.get(db.cache_owner)
        if slot is None or slot[0] != revision:
            return None
        known = slot[1].get(token_hash)
        return known.principal if known is not None and self._clock() < known.until else None

    def _keep(self, db: Database, revision: int, token_hash: str, known: _Known) -> None:
        owner = db.cache_owner
        with self._lock:
            slot = self._slots.get(owner)
            full = slot is not None and slot[0] == revision and len(slot[1]) >= self.MAX_TOKENS
            if slot is None or slot[0] < revision or full:
                slot = self._slots[owner] = (revision, {})
            if slot[0] == revision:  # an older lookup than what is kept: not kept
                slot[1][token_hash] = known


def _principal(found: tokens.FoundToken) -> Principal:
    return Principal(token_id=found.id, role=found.role, name=found.name, grids=found.grids)


def _note_use(db: Database, token_id: int) -> None:
    """Note a token's use, in a transaction of its own: a primary that takes no writes for now (full disk,
    read-only) or drops the connection just then must not turn a signed-in request into an error for the sake of
    a timestamp."""
    try:
        with db.cursor(dict_rows=False) as cur:
            tokens.note_use(cur, token_id)
    except DatabaseUnavailable as exc:
        log.warning("token %s used; its last use not noted: %s", token_id, exc)


TOKEN_CACHE = TokenCache()  # the process's


def authenticate(db: Database, token: str) -> Principal | None:
    """The principal for a presented token, or None when it is unknown, revoked or expired (:class:`TokenCache`:
    a round trip only for a token this process has not seen since its last change; on the hot standby while the
    primary is out of reach)."""
    return TOKEN_CACHE.authenticate_anywhere(db, token)


def known_principal(db: Database, token: str) -> Principal | None:
    """The principal of a token this process knows and can vouch for without I/O, else None (then
    :func:`authenticate`, off the event loop)."""
    return TOKEN_CACHE.peek(db, token)


def list_tokens(db: Database) -> list[TokenRow]:
    """Every token with its role, name, creation, expiry, last use and revocation — never the secret."""
    with db.cursor(dict_rows=False) as cur:
        return tokens.list_tokens(cur)


def revoke_token(db: Database, token_id: int, actor: str = "cli") -> tuple[TokenRow, bool]:
    """Revoke token ``token_id`` at once (every process refuses it once the change is announced); the token and
    whether this call revoked it (False: it already was). 404 when there is no such token."""
    with db.cursor(dict_rows=False) as cur:
        row, revoked_now = tokens.revoke(cur, token_id)
        if row is None:
            raise NotFound("auth.unknown_token", token_id=token_id)
        if revoked_now:
            audit.record(
                cur,
                actor=actor,
                role="admin",
                action="revoke",
                entity="api_token",
                entity_id=token_id,
                detail={"role": row.role, "name": row.name},
            )
    return row, revoked_now
