"""The scaled deployment (deploy/docker-compose.scale.yml): a file Compose accepts, built from official images
for the database and the load balancer, a streaming standby made by pg_basebackup -R, reads sent to it, and a
smoke script that says plainly when it cannot check anything (no Docker daemon)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO

DEPLOY = Path(REPO) / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.scale.yml").read_text())


def test_the_compose_file_wires_primary_standby_replicas_balancer_and_dask() -> None:
    services = _compose()["services"]
    assert services["primary"]["image"].startswith("postgis/postgis:")
    assert services["standby"]["image"] == services["primary"]["image"]
    assert services["lb"]["image"].startswith("nginx:")
    assert "wal_level=replica" in services["primary"]["command"]
    standby_script = (DEPLOY / services["standby"]["entrypoint"][0].lstrip("/")).read_text()
    assert "pg_basebackup" in standby_script and " -R " in standby_script
    env = services["app"]["environment"]
    assert (
        "@primary:" in env["GEO_SERVICE_DATABASE_URL"] and "@standby:" in env["GEO_SERVICE_DATABASE_READ_URL"]
    )
    assert "ports" not in services["app"]  # replicas are reached through the balancer only
    assert "server app:8000" in (DEPLOY / "nginx.conf").read_text()
    assert services["dask-scheduler"]["command"][:2] == ["dask", "scheduler"]
    assert "tcp://dask-scheduler:8786" in services["dask-worker"]["command"]
    assert (
        services["dask-worker"]["environment"]["GEO_SERVICE_DATABASE_READ_URL"]
        == env["GEO_SERVICE_DATABASE_READ_URL"]
    )
    secrets = _compose()["secrets"]
    assert all("password" in name for name in secrets)
    for service in services.values():  # passwords only as files under /run/secrets, never in the file
        for key in service.get("environment") or {}:
            assert not key.endswith("PASSWORD"), key


def test_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if (
        tool is None
    ):  # Debian's docker-compose is in the Makefile's packages; without it there is nothing to ask
        return
    done = subprocess.run(
        [tool, "-f", str(DEPLOY / "docker-compose.scale.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_smoke_script_skips_with_a_clear_message_without_docker(tmp_path: Path) -> None:
    # a PATH with no docker on it: the script must neither fail nor pretend to have checked
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    done = subprocess.run(
        [str(DEPLOY / "smoke.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(bin_dir)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SKIP: no Docker daemon")
