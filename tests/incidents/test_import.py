"""CSV import: UTF-8 and GBK, per-row errors, atomic by default, idempotent by external_id."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.documented import answered
from tests.incidents.areas import COMMUNITY_SE, GRID_1, GRID_2, POINTS

pytestmark = pytest.mark.usefixtures("areas")
HEADER = "external_id,lon,lat,crs,address,category,description\n"


def _line(external_id: str, point: str, category: str = "E0102", description: str = "垃圾堆放") -> str:
    lon, lat = POINTS[point]
    return f"{external_id},{lon},{lat},wgs84,,{category},{description}\n"


def _count(db: Database, prefix: str) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents WHERE external_id LIKE %s", (prefix + "%",))
        return cur.fetchone()[0]


def _post(client: TestClient, headers: dict, content: bytes, **params: str):
    return client.post(
        "/api/incidents/import",
        content=content,
        params=params,
        headers={**headers, "Content-Type": "text/csv"},
    )


def test_utf8_import_and_idempotent_reimport(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    text = (
        HEADER + _line("U-1", "grid_1") + _line("U-2", "grid_2", "街面秩序") + _line("U-3", "community_only")
    )
    first = _post(client, dispatcher_headers, text.encode("utf-8"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["existing"], body["errors"], body["encoding"]) == (3, 0, [], "utf-8")
    assert [r["row"] for r in body["rows"]] == [2, 3, 4] and {r["result"] for r in body["rows"]} == {
        "created"
    }
    by_row = {r["row"]: r["id"] for r in body["rows"]}
    first_incident = client.get(f"/api/incidents/{by_row[2]}", headers=dispatcher_headers).json()
    assert first_incident["grid_code"] == GRID_1 and first_incident["source"] == "import"
    assert client.get(f"/api/incidents/{by_row[3]}", headers=dispatcher_headers).json()["category"] == "E05"
    assert (
        client.get(f"/api/incidents/{by_row[4]}", headers=dispatcher_headers).json()["owner_code"]
        == COMMUNITY_SE
    )
    history = client.get(f"/api/incidents/{by_row[2]}/history", headers=dispatcher_headers).json()["history"]
    assert history[0]["action"] == "created"

    again = _post(client, dispatcher_headers, (text + _line("U-4", "grid_2")).encode("utf-8")).json()
    assert (again["created"], again["existing"]) == (1, 3)
    assert {r["row"]: r["id"] for r in again["rows"] if r["result"] == "existing"} == by_row
    assert _count(db, "U-") == 4


def test_gbk_detected_and_declared(client: TestClient, dispatcher_headers: dict, db: Database) -> None:
    text = (
        HEADER
        + _line("G-1", "grid_2", "暴露垃圾", "小区门口垃圾无人清运")
        + _line("G-2", "grid_1", "无照经营游商", "占道")
    )
    gbk = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")  # the test really is GBK
    detected = _post(client, dispatcher_headers, gbk)
    assert detected.status_code == 200, detected.text
    assert detected.json()["encoding"] == "gbk" and detected.json()["created"] == 2
    stored = client.get(
        f"/api/incidents/{detected.json()['rows'][0]['id']}", headers=dispatcher_headers
    ).json()
    assert stored["description"] == "小区门口垃圾无人清运" and stored["grid_code"] == GRID_2
    declared = _post(
        client,
        dispatcher_headers,
        (HEADER + _line("G-3", "grid_1", "E0501", "游商")).encode("gbk"),
        encoding="gbk",
    )
    assert declared.json()["created"] == 1
    wrong = _post(client, dispatcher_headers, gbk, encoding="utf-8")
    assert wrong.status_code == 400 and "utf-8" in wrong.json()["detail"]
    assert _count(db, "G-") == 3


def test_chinese_headers_and_multipart(client: TestClient, dispatcher_headers: dict) -> None:
    lon, lat = POINTS["grid_1"]
    text = f"工单号,经度,纬度,类别,问题描述,联系电话\nH-1,{lon},{lat},E0102,路边垃圾,13800001111\n"
    response = client.post(
        "/api/incidents/import",
        files={"file": ("tickets.csv", text.encode("utf-8-sig"))},
        headers=dispatcher_headers,
    )
    assert response.status_code == 200, response.text
    incident_id = response.json()["rows"][0]["id"]
    stored = client.get(f"/api/incidents/{incident_id}", headers=dispatcher_headers).json()
    assert stored["reporter"] == {"phone": "13800001111"} and stored["external_id"] == "H-1"


def test_atomic_import_leaves_nothing(client: TestClient, dispatcher_headers: dict, db: Database) -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        before = cur.fetchone()[0]
    text = (
        HEADER
        + _line("A-1", "grid_1")
        + "A-2,24.94,,wgs84,,E0102,only lon\n"
        + _line("A-3", "outside")
        + _line("A-4", "grid_2", "飞碟")
        + "A-5,east,60.16,wgs84,,E0102,not a number\n"
        + _line("A-6", "grid_2")
    )
    response = _post(client, dispatcher_headers, text.encode("utf-8"))
    assert response.status_code == 422
    body = response.json()
    assert "nothing was written" in body["detail"] and body["created"] == 0
    assert [e["row"] for e in body["errors"]] == [3, 4, 5, 6]
    assert (
        "outside every" in body["errors"][1]["detail"] and "unknown category" in body["errors"][2]["detail"]
    )
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        assert cur.fetchone()[0] == before
    document = client.get("/openapi.json").json()  # rows written and rows refused, member by member
    partial = answered(
        document,
        "/api/incidents/import",
        "post",
        _post(client, dispatcher_headers, text.encode("utf-8"), atomic="false"),
    )
    assert partial["created"] == 2 and len(partial["errors"]) == 4
    assert _count(db, "A-") == 2


def test_duplicate_ids_within_one_file(client: TestClient, dispatcher_headers: dict) -> None:
    text = HEADER + _line("D-1", "grid_1") + _line("D-1", "grid_2")
    body = _post(client, dispatcher_headers, text.encode("utf-8")).json()
    assert (body["created"], body["existing"]) == (1, 1)
    assert body["rows"][0]["id"] == body["rows"][1]["id"]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"", 400, "empty"),
        (b"name,value\nx,1\n", 400, "header needs category"),
        (b"\xff\xfe\x00garbage\x81\x30", 400, "neither UTF-8 nor GBK"),
    ],
)
def test_unreadable_files_are_400(
    client: TestClient, dispatcher_headers: dict, content: bytes, status: int, fragment: str
) -> None:
    response = _post(client, dispatcher_headers, content)
    assert response.status_code == status and fragment in response.json()["detail"]


def test_import_needs_the_dispatcher_role(client: TestClient, planner_headers: dict) -> None:
    assert _post(client, planner_headers, (HEADER + _line("P-1", "grid_1")).encode()).status_code == 403


def test_unclosed_quote_is_an_error_of_its_row(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    """A quote never closed used to swallow every later row into one description and report success."""
    text = (
        HEADER
        + _line("Q-1", "grid_1")
        + _line("Q-2", "grid_1", description='"broken, never closed')
        + _line("Q-3", "grid_2")
        + _line("Q-4", "grid_1", description='"a quoted note, over\ntwo lines"')
        + _line("Q-5", "grid_2")
    )
    atomic = _post(client, dispatcher_headers, text.encode("utf-8"))
    assert atomic.status_code == 422, atomic.text
    assert [e["row"] for e in atomic.json()["errors"]] == [3] and "quote" in atomic.json()["errors"][0][
        "detail"
    ]
    assert _count(db, "Q-") == 0  # atomic: nothing written
    partial = _post(client, dispatcher_headers, text.encode("utf-8"), atomic="false").json()
    assert [e["row"] for e in partial["errors"]] == [3]
    assert [r["row"] for r in partial["rows"]] == [2, 4, 5, 6] and partial["created"] == 4
    by_row = {r["row"]: r["id"] for r in partial["rows"]}
    assert (
        client.get(f"/api/incidents/{by_row[4]}", headers=dispatcher_headers).json()["description"]
        == "垃圾堆放"
    )
    two_lines = client.get(f"/api/incidents/{by_row[5]}", headers=dispatcher_headers).json()["description"]
    assert two_lines == "a quoted note, over\ntwo lines"  # a closed multi-line field stays one field


def test_nul_in_a_cell_is_an_error_of_its_row(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    text = HEADER + _line("N-1", "grid_1") + _line("N-2", "grid_1", description="bad\x00text")
    response = _post(client, dispatcher_headers, text.encode("utf-8"))
    assert response.status_code == 422 and [e["row"] for e in response.json()["errors"]] == [3]
    assert "NUL" in response.json()["errors"][0]["detail"] and _count(db, "N-") == 0
