"""The guide map follows planners' facility edits: an added facility shows, a deleted one goes, and a sheet a
phone kept is answered 304 until then."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.guide_map.conftest import WITH_CENTRE, pdf_text, squash

NAME = "测试长者食堂驿站"


def test_added_facility_shows_and_deleted_one_goes(
    guide_client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    url = f"/api/areas/{WITH_CENTRE}/guide-map.pdf"
    first = guide_client.get(url)
    before = pdf_text(first.content, tmp_path)
    assert "养老服务" not in before  # no elderly care around Simonkatu in the extract
    kept = {"If-None-Match": first.headers["etag"]}
    again = guide_client.get(url, headers=kept)
    assert (
        again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    )

    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.9375, 60.1685]},
        "properties": {"category": "elderly_care", "name": NAME},
    }
    created = guide_client.post("/api/facilities", json=feature, headers=planner_headers)
    assert created.status_code == 201, created.text
    changed = guide_client.get(url, headers=kept)  # the kept sheet no longer holds
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    with_it = pdf_text(changed.content, tmp_path)
    assert "养老服务" in with_it and squash(NAME) in with_it

    gone = guide_client.delete(
        f"/api/facilities/{created.json()['id']}",
        headers={**planner_headers, "If-Match": created.headers["etag"]},
    )
    assert gone.status_code == 204, gone.text
    after = pdf_text(guide_client.get(url).content, tmp_path)
    assert "养老服务" not in after and squash(NAME) not in after
