"""Property-based fuzzing of the whole HTTP API from its live OpenAPI document (schemathesis).

A real uvicorn server runs over a copy of the Helsinki test database with the demo hierarchy, stations and
incidents, on a fixed clock. ``st run`` reads the server's ``/openapi.json`` and sends every operation the
schema's own examples, its boundary cases (coverage phase: extreme numbers, NUL bytes, missing and extra
fields, wrong types) and generated requests, with an admin token. Half of the time a path or query parameter
that names something (a grid code, a station id, a layer, a tile, a point in the city) takes a value that
exists in the demo data, so the cases reach past the 404s into the routes' work. Every answer must be no
server error (no 5xx) and match the schema the document declares for its status (the 4xx error body too).

Bounded for CI: ``GEO_SERVICE_FUZZ_EXAMPLES`` examples per operation (default 8), a fixed seed and
deterministic generation, so every run sends the same cases. The coverage phase's boundary bodies go out under
``application/json`` only where an operation declares the same schema under ``application/geo+json`` too
(``tests/api/fuzz_hooks.py``: the routers read both alike; the other phases still send both): the repeats
were 2,017 of 7,889 cases. ``make fuzz`` runs more. The counts
(operations, cases, failures) go to ``test-artifacts/fuzz/summary.json`` and the test output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings, RateLimitSettings
from tests.conftest import DEMO_NOW, REPO, auth_headers, running_server

EXAMPLES = int(os.environ.get("GEO_SERVICE_FUZZ_EXAMPLES", "8"))
SEED = 20261202
NOW = DEMO_NOW
ARTIFACTS = REPO / "test-artifacts" / "fuzz"
ST = Path(sys.executable).with_name("st")
HOOKS = "tests.api.fuzz_hooks"  # drops the coverage phase's repeats of a JSON body under an alias media type


@pytest.fixture(scope="module")
def db(demo_city_db: Database) -> Database:
    """The demo city: hierarchy, stations and incidents filed at ``NOW``."""
    return demo_city_db


@pytest.fixture(scope="module")
def fuzz_server(db: Database) -> Iterator[str]:
    # rate limits off: they have tests of their own, and 429s would stop the cases short of the routes' work
    app = create_app(
        db=db,
        incident_settings=IncidentSettings(escalation_enabled=False),
        clock=ManualClock(NOW),
        limit_settings=RateLimitSettings(enabled=False),
    )
    with running_server(app) as base:
        # The document built once before the run (FastAPI keeps it): schemathesis gives up loading it after
        # 10 s, which a loaded machine building it cold has exceeded.
        httpx.get(f"{base}/openapi.json", timeout=120).raise_for_status()
        yield base


def _ids(db: Database, sql: str) -> list[Any]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(sql)
        return [row[0] for row in cur.fetchall()]


def _config(db: Database) -> str:
    """schemathesis.toml: dictionaries of values that exist in the demo data, each bound to the parameters
    that name such things, used for half of the generated cases."""
    dictionaries = {
        "codes": _ids(db, "SELECT code FROM areas WHERE valid_to IS NULL ORDER BY level, code LIMIT 8"),
        "stations": _ids(db, "SELECT id FROM stations ORDER BY id LIMIT 5"),
        "facilities": _ids(db, "SELECT id FROM facilities ORDER BY id LIMIT 5"),
        "incidents": _ids(db, "SELECT id FROM incidents ORDER BY id LIMIT 5"),
        "requests": [str(i) for i in _ids(db, "SELECT id FROM incidents ORDER BY id LIMIT 5")],
        "categories": ["E0102", "E0501", "C0101"],
        "layers": ["grids", "stations", "facilities", "incidents", "roads", "grids,stations"],
        "collections": ["grids", "stations", "facilities", "service_circles", "incidents"],
        "pages": ["planner", "stations", "dispatch", "circles", "worker"],
        "profiles": ["gb50180", "walk45", "elderly"],
        "formats": ["json", "xml"],
        "lon": [24.9414, 24.9445, 24.95],
        "lat": [60.1699, 60.1702, 60.166],
        "z": ["14"],
        "x": ["9327"],
        "y": ["4740"],
    }
    bindings = {
        "path.code": "codes",
        "query.parent_code": "codes",
        "path.feature_id": "codes",
        "path.station_id": "stations",
        "path.facility_id": "facilities",
        "path.incident_id": "incidents",
        "path.request_id": "requests",
        "path.service_code": "categories",
        "query.category": "categories",
        "path.layers": "layers",
        "path.collection_id": "collections",
        "path.page": "pages",
        "path.profile_id": "profiles",
        "query.profile": "profiles",
        "path.fmt": "formats",
        "query.lon": "lon",
        "query.lat": "lat",
        "path.z": "z",
        "path.x": "x",
        "path.y": "y",
    }
    lines = []
    for name, values in dictionaries.items():
        lines += [
            f"[dictionaries.{name}]",
            f"values = {json.dumps([v for v in values if v is not None])}",
            "",
        ]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in bindings.items()]
    return "\n".join(lines) + "\n"


# Revoking a token is fuzzed last, alone: in the main run its generated ids revoke the run's own admin token
# (ids are small integers), after which every operation answers only 401 and the fuzz stops reaching the routes.
REVOKE = "DELETE /api/tokens/{token_id}"


def _summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Operations, cases and failures from schemathesis' JSON run reports, summed over the runs."""

    def total(section: str, key: str) -> int:
        return sum(int((report.get(section) or {}).get(key, 0) or 0) for report in reports)

    return {
        "operations": total("operations", "tested"),
        "cases": total("test_cases", "generated"),
        "cases_with_failures": total("test_cases", "with_failures"),
        "unique_failures": total("test_cases", "unique_failures"),
        "errored": total("test_cases", "errored"),
        "examples_per_operation": EXAMPLES,
        "seconds": round(sum(float(report.get("running_time") or 0) for report in reports), 1),
        "failures": [failure for report in reports for failure in report.get("failures") or []],
        "only_401_or_403": [
            name for report in reports for name in (report.get("warnings") or {}).get("missing_auth") or []
        ],
    }


def _st_run(base: str, config: Path, token: str, name: str, selection: list[str]) -> dict[str, Any]:
    """One ``st run`` over the operations ``selection`` picks; its output beside its JSON report."""
    report_path = ARTIFACTS / f"report-{name}.json"
    report_path.unlink(missing_ok=True)
    command = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        *selection,
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "120",
        "--header",
        f"Authorization:{token}",
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
        "--no-color",
    ]
    # the hooks module is imported by st from the repository (the run's cwd is the artifacts folder)
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": python_path}
    run = subprocess.run(command, capture_output=True, text=True, cwd=ARTIFACTS, env=env, timeout=3600)
    (ARTIFACTS / f"output-{name}.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:]
    return json.loads(report_path.read_text()) if report_path.exists() else {}


def test_fuzz_openapi_no_server_errors(fuzz_server: str, db: Database) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    token = auth_headers(db, "admin")["Authorization"]
    config = ARTIFACTS / "schemathesis.toml"
    config.write_text(_config(db))
    reports = [
        _st_run(fuzz_server, config, token, "api", ["--exclude-name", REVOKE]),
        _st_run(fuzz_server, config, token, "revoke", ["--include-name", REVOKE]),
    ]
    summary = _summary(reports)
    (ARTIFACTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(
        f"\nfuzz: {summary['operations']} operations, {summary['cases']} cases, "
        f"{summary['unique_failures']} failures, {summary['errored']} errors"
    )
    # the document st read (FastAPI keeps it): building a second app and its document cost ~1.5 CPU s
    paths = httpx.get(f"{fuzz_server}/openapi.json", timeout=120).json()["paths"]
    documented = sum(len(operations) for operations in paths.values())
    assert summary["operations"] == documented  # every operation was fuzzed
    assert summary["cases"] > 0 and summary["unique_failures"] == 0 and summary["errored"] == 0
    # every operation reached past authentication with the admin token (a role-less route answers 401 only
    # to a missing or revoked token)
    assert summary["only_401_or_403"] == []
