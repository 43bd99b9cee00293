"""The geo-service command line, against the test cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_service.auth import authenticate
from geo_service.cli import app
from geo_service.db.pool import Database
from tests.conftest import TEST_HOME

runner = CliRunner()


@pytest.fixture
def cli_env(fresh_db: Database, monkeypatch: pytest.MonkeyPatch, pg_settings) -> Database:
    """Point the CLI at a fresh copy of the test database; its messages in the default language, zh-CN, whatever
    the machine's locale."""
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "zh-CN")
    dbname = fresh_db.dsn.split("dbname=")[1].split()[0]
    if pg_settings.database_url:
        from geo_service.db.pool import resolve_dsn

        monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", resolve_dsn(pg_settings, dbname, start=False))
    else:
        monkeypatch.delenv("GEO_SERVICE_DATABASE_URL", raising=False)
        monkeypatch.setenv("GEO_SERVICE_HOME", str(TEST_HOME))
        monkeypatch.setenv("GEO_SERVICE_DB_NAME", dbname)
    return fresh_db


def test_help_lists_the_contract_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "demo", "db", "import-osm", "token"):
        assert command in result.output


def test_token_create_prints_a_working_token(cli_env: Database) -> None:
    result = runner.invoke(app, ["token", "create", "--role", "planner", "--name", "cli-test"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    principal = authenticate(cli_env, token)
    assert principal is not None and principal.role == "planner"


def test_token_create_rejects_unknown_role(cli_env: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error is the catalogue's message in the command line's language."""
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")
    result = runner.invoke(app, ["token", "create", "--role", "emperor"])
    assert result.exit_code == 2
    assert "Unknown role 'emperor'" in result.output
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "zh-CN")
    result = runner.invoke(app, ["token", "create", "--role", "emperor"])
    assert result.exit_code == 2 and "没有“emperor”这个角色" in result.output


def test_import_osm_refuses_a_corrupt_file(cli_env: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot really")
    result = runner.invoke(app, ["import-osm", str(bad)])
    assert result.exit_code == 1
    assert "未导入任何内容" in result.output


def test_db_status_reports_running(cli_env: Database, pg_settings) -> None:
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 0
    assert "集群：运行中" in result.output or "GEO_SERVICE_DATABASE_URL" in result.output
