"""The guide map follows planners' facility edits: an added facility shows, a deleted one goes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.guide_map.conftest import WITH_CENTRE, pdf_text, squash

NAME = "测试长者食堂驿站"


def test_added_facility_shows_and_deleted_one_goes(
    guide_client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    url = f"/api/areas/{WITH_CENTRE}/guide-map.pdf"
    before = pdf_text(guide_client.get(url).content, tmp_path)
    assert "养老服务" not in before  # no elderly care around Simonkatu in the extract

    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.9375, 60.1685]},
        "properties": {"category": "elderly_care", "name": NAME},
    }
    created = guide_client.post("/api/facilities", json=feature, headers=planner_headers)
    assert created.status_code == 201, created.text
    with_it = pdf_text(guide_client.get(url).content, tmp_path)
    assert "养老服务" in with_it and squash(NAME) in with_it

    gone = guide_client.delete(
        f"/api/facilities/{created.json()['id']}",
        headers={**planner_headers, "If-Match": created.headers["etag"]},
    )
    assert gone.status_code == 204, gone.text
    after = pdf_text(guide_client.get(url).content, tmp_path)
    assert "养老服务" not in after and squash(NAME) not in after
