"""Packaging: the compose file validates, the image runs as a non-root user, the console script exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from tests.conftest import REPO


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(
    _compose_command() is None, reason="neither `docker compose` nor docker-compose installed"
)
def test_compose_config_is_accepted() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", "docker-compose.yml", "config"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "postgis/postgis:15" in result.stdout
    assert "GEO_SERVICE_DATABASE_URL" in result.stdout


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")


def test_console_script_and_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == "geo-service"
    assert project["scripts"]["geo-service"] == "geo_service.cli:app"
    assert "dev" in project["optional-dependencies"]


def test_compose_keeps_passwords_out_and_runs_the_app_as_the_runtime_role() -> None:
    """No password in docker-compose.yml; the app connects as the runtime role and holds only its secret; the
    superuser and owner passwords reach only the database and the one-shot set-up job."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    text = (REPO / "docker-compose.yml").read_text()
    services = compose["services"]
    for service in services.values():
        for key in service.get("environment", {}):
            assert "PASSWORD" not in key or key.endswith("_FILE"), key
    assert not re.search(r"postgresql://[^@\s/]*:[^@\s]*@", text), "a password inside a URL"
    app = services["app"]
    assert app["environment"]["GEO_SERVICE_DATABASE_URL"].startswith("postgresql://geo_service_app@")
    assert "GEO_SERVICE_DATABASE_MIGRATE_URL" not in app["environment"]
    assert app["secrets"] == ["db_app_password"]
    assert set(services["setup"]["secrets"]) == {
        "db_superuser_password",
        "db_owner_password",
        "db_app_password",
    }
    assert services["setup"]["command"] == ["geo-service", "db", "setup"]
    assert app["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert all("file" in secret for secret in compose["secrets"].values())
    assert "secrets/" in (REPO / ".gitignore").read_text().split()
