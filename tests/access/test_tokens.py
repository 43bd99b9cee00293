"""Token lifecycle: optional expiry, ``geo-service token list`` (never the secret) and ``token revoke``; an
expired or revoked token gets 401 ``auth.invalid_token`` from every route: at once in the process that revoked
it, as soon as the database's announcement arrives in the others; admins do the same over HTTP. A process keeps
the tokens it has seen (``auth.TokenCache``) until one changes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geo_service.api.app import create_app
from geo_service.auth import (
    TOKEN_CACHE,
    TokenCache,
    authenticate,
    create_token,
    hash_token,
    known_principal,
)
from geo_service.cli import app as cli
from geo_service.db import revisions
from geo_service.db.pool import Database
from tests.conftest import auth_headers, read_only_dsn, seen_within
from tests.documented import answered
from tests.test_cli import cli_env  # noqa: F401 - the CLI pointed at a fresh database

runner = CliRunner()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")


def test_create_list_revoke_from_the_command_line(cli_env: Database, english: None) -> None:  # noqa: F811
    code, out = invoke(
        "token", "create", "--role", "dispatcher", "--name", "12345 desk", "--expires-days", "30"
    )
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    with TestClient(create_app(db=cli_env), raise_server_exceptions=False) as http:
        assert http.get("/api/auth/whoami", headers=bearer(token)).json()["name"] == "12345 desk"

        code, listing = invoke("token", "list")
        assert code == 0, listing
        assert token not in listing and hash_token(token) not in listing  # never the secret
        header, *lines = listing.strip().splitlines()
        assert header.split() == [
            "id",
            "role",
            "name",
            "created",
            "expires",
            "last",
            "used",
            "revoked",
            "status",
        ]
        line = next(line for line in lines if "12345 desk" in line)
        token_id = line.split()[0]
        assert "dispatcher" in line and line.rstrip().endswith("active")
        assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d\+08:00", line)) == 3  # created, expires, last used

        code, out = invoke("token", "revoke", token_id)
        assert code == 0 and f"Token {token_id} revoked" in out
        # the command is another process as far as the server's pool goes: the revocation reaches it as the
        # database announces it
        assert seen_within(lambda: http.get("/api/auth/whoami", headers=bearer(token)).status_code == 401)
        refused = http.get("/api/auth/whoami", headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["code"] == "auth.invalid_token"
        assert http.get("/tiles/style.json", headers=bearer(token)).status_code == 401
        line = next(line for line in invoke("token", "list")[1].splitlines() if line.startswith(token_id))
        assert line.rstrip().endswith("revoked")
        code, out = invoke("token", "revoke", token_id)
        assert code == 0 and "already revoked" in out
        code, out = invoke("token", "revoke", "999999")
        assert code == 1 and "No token with id 999999" in out


@pytest.mark.parametrize("days", ["0", "-3", "4000"])
def test_expiry_must_be_sensible(cli_env: Database, monkeypatch: pytest.MonkeyPatch, days: str) -> None:  # noqa: F811
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "zh-CN")
    code, out = invoke("token", "create", "--role", "planner", "--expires-days", days)
    assert code == 2 and "令牌有效期须为 1 至 3650 天" in out


def test_an_expired_token_is_refused(db: Database, client: TestClient) -> None:
    token = create_token(db, "planner", "short-lived", expires_days=1)
    assert client.get("/api/auth/whoami", headers=bearer(token)).status_code == 200
    with db.cursor() as cur:  # two days later
        cur.execute(
            """UPDATE api_tokens SET created_at = created_at - interval '2 days',
                                     expires_at = expires_at - interval '2 days' WHERE token_hash = %s""",
            (hash_token(token),),
        )
    assert authenticate(db, token) is None
    for path in ("/api/auth/whoami", "/api/stations/vocabulary", "/ogc/collections"):
        refused = client.get(path, headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["code"] == "auth.invalid_token", path
    until_revoked = create_token(db, "planner", "until revoked")
    assert client.get("/api/auth/whoami", headers=bearer(until_revoked)).status_code == 200


def test_admins_list_and_revoke_over_http(db: Database, client: TestClient) -> None:
    admin = auth_headers(db, "admin")
    victim = create_token(db, "dispatcher", "lost laptop", expires_days=7)
    client.get("/api/auth/whoami", headers=bearer(victim))
    listed = client.get("/api/tokens", headers=admin)
    assert listed.status_code == 200 and victim not in listed.text and hash_token(victim) not in listed.text
    entry = next(t for t in listed.json()["tokens"] if t["name"] == "lost laptop")
    assert entry["role"] == "dispatcher" and entry["active"] and entry["expires_at"] and entry["last_used_at"]
    assert client.get("/api/tokens", headers=bearer(victim)).status_code == 403
    assert client.delete(f"/api/tokens/{entry['id']}", headers=bearer(victim)).status_code == 403
    revoked = client.delete(f"/api/tokens/{entry['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] and not revoked.json()["active"]
    assert client.get("/api/auth/whoami", headers=bearer(victim)).status_code == 401
    assert client.delete("/api/tokens/999999", headers=admin).status_code == 404
    created = client.post("/api/tokens", json={"role": "planner", "expires_days": 0}, headers=admin)
    assert created.status_code == 422
    created = client.post("/api/tokens", json={"role": "planner", "expires_days": 90}, headers=admin)
    assert created.status_code == 201 and authenticate(db, created.json()["token"]).role == "planner"


def test_token_answers_have_the_members_their_schemas_name(db: Database, client: TestClient) -> None:
    """Who am I, a new token, the list and a revoked token: every member their schema names (``grids``
    included) and no other; times in ISO 8601, UTC written ``Z`` as before the answers were typed."""
    document = client.get("/openapi.json").json()
    admin = auth_headers(db, "admin")
    body = {"role": "dispatcher", "name": "patrol", "expires_days": 30}
    new = answered(document, "/api/tokens", "post", client.post("/api/tokens", json=body, headers=admin), 201)
    assert new["grids"] == []
    me = answered(
        document, "/api/auth/whoami", "get", client.get("/api/auth/whoami", headers=bearer(new["token"]))
    )
    assert me["grids"] == [] and me["role"] == "dispatcher"
    listed = answered(document, "/api/tokens", "get", client.get("/api/tokens", headers=admin))
    entry = next(t for t in listed["tokens"] if t["name"] == "patrol")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry["created_at"]), entry["created_at"]
    path = "/api/tokens/{token_id}"
    answered(document, path, "delete", client.delete(f"/api/tokens/{entry['id']}", headers=admin))


def _listening(db: Database) -> None:
    """Until the process holds the data revisions in memory (read, and its listener connected: it connects in the
    background)."""
    watch = revisions.watch_of(db)
    assert seen_within(lambda: bool(watch.current()) and watch.cached() is not None, bound_s=60)


def test_a_known_token_costs_no_lookup_until_a_token_changes(db: Database, client: TestClient) -> None:
    token = create_token(db, "dispatcher", "desk 3")
    assert client.get("/api/auth/whoami", headers=bearer(token)).status_code == 200
    _listening(db)
    looked_up = TOKEN_CACHE.lookups
    for _ in range(3):
        assert client.get("/api/auth/whoami", headers=bearer(token)).json()["name"] == "desk 3"
    assert TOKEN_CACHE.lookups == looked_up
    # known on the event loop, without I/O, while the data revisions held in memory are current
    watch = revisions.watch_of(db)
    assert seen_within(lambda: bool(watch.current()) and known_principal(db, token) is not None)
    # any change to a token (here another one created) drops what the process kept: looked up again, still valid
    create_token(db, "planner", "another")
    assert client.get("/api/auth/whoami", headers=bearer(token)).status_code == 200
    assert TOKEN_CACHE.lookups == looked_up + 1
    # revoked through another pool (another server process): refused once the announcement arrives
    other = Database(db.dsn, max_size=1)
    try:
        with other.cursor() as cur:
            cur.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s", (hash_token(token),)
            )
    finally:
        other.close()
    assert seen_within(lambda: client.get("/api/auth/whoami", headers=bearer(token)).status_code == 401)


def test_a_kept_token_ends_with_its_expiry_and_its_time(db: Database) -> None:
    """Kept at most until the token expires (by the database clock, as the lookup judged it) and ``known_for_s``:
    a cache of its own, on a clock the test moves; ``lookups`` counts the round trips."""
    now = [1000.0]
    cache = TokenCache(known_for_s=60, clock=lambda: now[0])
    lasting = create_token(db, "planner", "lasting")
    expiring = create_token(db, "planner", "expiring", expires_days=1)
    with db.cursor() as cur:
        cur.execute(
            "UPDATE api_tokens SET expires_at = now() + interval '30 seconds' WHERE token_hash = %s",
            (hash_token(expiring),),
        )
    for _ in range(2):
        assert cache.authenticate(db, lasting) is not None and cache.authenticate(db, expiring) is not None
    assert cache.lookups == 2  # the second time both were kept
    # past the expiry the database gave: that token is looked up again (still valid to the database)
    now[0] += 31
    assert cache.authenticate(db, expiring) is not None and cache.lookups == 3
    assert cache.authenticate(db, lasting) is not None and cache.lookups == 3
    now[0] += 30  # past known_for_s: so is the other (its use noted again)
    assert cache.authenticate(db, lasting) is not None and cache.lookups == 4
    assert cache.authenticate(db, "not-a-token") is None and cache.lookups == 4


def test_a_token_is_honoured_when_its_use_cannot_be_noted(db: Database) -> None:
    """A primary that takes no writes for now (read-only here; a full disk is the same) still checks tokens:
    noting the last use is a transaction of its own, and its failure is logged, not answered."""
    token = create_token(db, "dispatcher", "read-only primary")
    read_only = Database(read_only_dsn(db), max_size=2)
    try:
        principal = TokenCache().authenticate(read_only, token)
        assert principal is not None and principal.role == "dispatcher"
    finally:
        read_only.close()
    with db.cursor() as cur:
        cur.execute("SELECT last_used_at FROM api_tokens WHERE token_hash = %s", (hash_token(token),))
        assert cur.fetchone()["last_used_at"] is None  # not noted: the database took no write
    assert TokenCache().authenticate(db, token) is not None
    with db.cursor() as cur:
        cur.execute("SELECT last_used_at FROM api_tokens WHERE token_hash = %s", (hash_token(token),))
        assert cur.fetchone()["last_used_at"] is not None  # noted where writes are taken
