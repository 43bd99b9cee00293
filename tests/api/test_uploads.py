"""Multipart uploads: a file the form spooled to disk is closed when its request ends, answered or refused.
Before, it stayed open until the garbage collector came across the form: a file descriptor per upload."""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import warnings

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.conftest import auth_headers

JUNK = b"x" * (2 * 1024 * 1024)  # over Starlette's 1 MB in memory: the upload goes to a temporary file


def _spooled_files() -> int:
    """Temporary files (unlinked, in the temporary directory) this process holds open."""
    folder = tempfile.gettempdir()
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            count += target.startswith(folder) and target.endswith("(deleted)")
    return count


@pytest.mark.parametrize(
    ("path", "role", "field"),
    [
        ("/api/grids/import", "planner", "file"),
        ("/api/incidents/import", "dispatcher", "file"),
        ("/api/networks/police/import", "planner", "file"),
        ("/open311/v2/requests.json", None, "media"),
    ],
)
def test_a_spooled_upload_is_closed_when_its_request_ends(
    client: TestClient, db: Database, path: str, role: str | None, field: str
) -> None:
    headers = auth_headers(db, role) if role else {}
    form = {"service_code": "E0102", "lat": "60.17", "long": "24.94"} if field == "media" else {}
    gc.disable()  # what closes the file must be the request's end, not a collection that happens to run
    try:
        before = _spooled_files()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            answer = client.post(
                path, headers=headers, data=form, files={field: ("junk.bin", JUNK, "image/jpeg")}
            )
        assert answer.status_code < 500, answer.text
        assert _spooled_files() == before  # none left open (held by a reference cycle)
        # nor closed by its finaliser (freed with the request but never closed: Python warns then)
        assert not [w for w in seen if "SpooledTemporaryFile" in str(w.message)]
    finally:
        gc.enable()
