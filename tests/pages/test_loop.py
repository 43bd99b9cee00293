"""The 12345 loop in the browser at phone size (390×844, touch): a grid worker files a patrol report with a
photo while the phone is offline, it is sent once when the network returns and lands in their grid with the
photo; the dispatcher sees it with its photo; a second caller's report of the same event is suggested and
merged; the worker takes the case and reports it handled with a photo; the callback's unsatisfied answer
reopens it and a satisfied one closes it (and Open311's public status follows). Screenshots:
test-artifacts/pages/phone-worker-*.png and phone-dispatch-loop-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from shapely.geometry import Point, shape

from geo_service.auth import create_token
from geo_service.db.pool import Database
from tests.media.photos import phone_jpeg
from tests.pages.conftest import HELSINKI_POINT, PHONE, Session
from tests.pages.test_browser import bearer, grids, inner_point, wait_status

pytestmark = pytest.mark.slow
CATEGORY = "E0102"  # 暴露垃圾: a patrol's everyday find


@pytest.fixture(scope="module")
def beat(http: httpx.Client, demo_db: Database) -> dict[str, Any]:
    """The demo grid around HELSINKI_POINT, a point deep inside it and a worker token bound to it."""
    found = [g for g in grids(http) if shape(g["geometry"]).contains(Point(HELSINKI_POINT))]
    assert found, "the demo grids cover the test point"
    grid = found[0]
    (lon, lat), depth_m = inner_point(shape(grid["geometry"]))
    assert depth_m > 30
    code = grid["properties"]["code"]
    return {
        "code": code,
        "point": (lon, lat),
        "token": create_token(demo_db, "worker", "网格员李四", grids=[code]),
    }


@pytest.fixture(scope="module")
def dispatcher(demo_db: Database) -> str:
    return create_token(demo_db, "dispatcher", "调度员赵六")


@pytest.fixture(scope="module")
def filed() -> dict[str, Any]:
    """What the tests pass on: the patrol incident and the merged duplicate, as they are filed."""
    return {}


def _incident(http: httpx.Client, token: str, incident_id: int) -> dict[str, Any]:
    response = http.get(f"/api/incidents/{incident_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def _patrol_reports(demo_db: Database, grid: str) -> list[dict[str, Any]]:
    with demo_db.cursor() as cur:
        cur.execute(
            "SELECT id, client_id, grid_code, source, accuracy_m FROM incidents WHERE source = 'patrol' "
            "AND grid_code = %s AND client_id LIKE 'phone-%%' ORDER BY id",
            (grid,),
        )
        return cur.fetchall()


def _photos(demo_db: Database, incident_id: int) -> list[dict[str, Any]]:
    with demo_db.cursor() as cur:
        cur.execute("SELECT id, stage FROM media WHERE incident_id = %s ORDER BY id", (incident_id,))
        return cur.fetchall()


def _open_in_dispatch(s: Session, incident_id: int) -> None:
    s.page.tap(f"#queue li[data-incident='{incident_id}']")
    s.page.wait_for_selector(f"#created[data-loaded='{incident_id}']", state="attached")


def test_worker_reports_offline_and_it_lands_once_with_its_photo(
    session_factory,
    http: httpx.Client,
    demo_db: Database,
    beat: dict[str, Any],
    dispatcher: str,
    filed: dict[str, Any],
    tmp_path,
) -> None:
    photo = tmp_path / "patrol.jpg"
    photo.write_bytes(phone_jpeg(640, 480))
    before = _patrol_reports(demo_db, beat["code"])
    s = session_factory(phone=True, hidpi=True, token=beat["token"], geolocation=beat["point"])
    lon, lat = beat["point"]
    s.page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 12})
    s.goto("/app/worker", tiles=False)
    assert s.page.viewport_size == PHONE
    s.page.wait_for_selector("#token-status.ok", state="attached")
    s.page.tap("#locate")
    s.page.wait_for_selector(f"#position [data-grid='{beat['code']}']")
    position = s.page.inner_text("#position")
    assert "定位精度" in position  # the GPS accuracy is shown (and sent)
    s.page.select_option("#category", CATEGORY)
    s.page.fill("#description", "巡查发现：路边垃圾堆放")
    s.page.set_input_files("#photo", str(photo))
    assert "patrol.jpg" in s.page.inner_text("#photo-name")
    assert s.layout_problems() == []
    s.screenshot("phone-worker-report", map_drawn=False)

    # no network: the report waits on the phone, nothing reaches the server
    s.page.context.set_offline(True)
    s.page.tap("#send")
    queued = wait_status(s, "warn")
    assert "联网后自动补发" in queued
    s.page.wait_for_selector("#outbox[data-count='1']")
    assert _patrol_reports(demo_db, beat["code"]) == before
    s.screenshot("phone-worker-offline", map_drawn=False)

    # the network returns: sent once, in the worker's grid, with the photo cleaned of its GPS tags
    s.page.context.set_offline(False)
    s.page.wait_for_selector("#outbox[data-count='0']", state="attached")
    wait_status(s, "ok")
    after = _patrol_reports(demo_db, beat["code"])
    new = [r for r in after if r not in before]
    assert len(new) == 1, new
    report = new[0]
    assert report["grid_code"] == beat["code"] and report["source"] == "patrol" and report["accuracy_m"] > 0
    photos = _photos(demo_db, report["id"])
    assert [p["stage"] for p in photos] == ["report"]
    # sending the outbox again (a second "online" event, the button) files nothing more
    s.page.evaluate("() => window.dispatchEvent(new Event('online'))")
    s.page.wait_for_timeout(500)
    assert _patrol_reports(demo_db, beat["code"]) == after and len(_photos(demo_db, report["id"])) == 1
    incident = _incident(http, dispatcher, report["id"])
    assert incident["description"] == "巡查发现：路边垃圾堆放" and incident["status"] == "reported"
    # what the browser logged while offline (the failed send) is the point of the exercise
    s.console_errors[:] = [m for m in s.console_errors if "ERR_INTERNET_DISCONNECTED" not in m.text]
    s.check_clean()
    filed["patrol"] = report["id"]

    # the dispatcher, on a phone too, sees it in the queue with its photo
    d = session_factory(phone=True, token=dispatcher)
    d.goto("/app/dispatch", tiles=False)
    _open_in_dispatch(d, report["id"])
    d.page.wait_for_selector("#incident-photos figure.photo img")
    assert d.page.evaluate("() => document.querySelector('#incident-photos img').naturalWidth") > 0
    assert "上报" in d.page.inner_text("#incident-photos")
    assert d.layout_problems() == []
    d.screenshot("phone-dispatch-loop-photo", map_drawn=False)
    d.check_clean()


def test_a_second_callers_report_is_suggested_and_merged(
    session_factory, http: httpx.Client, beat: dict[str, Any], dispatcher: str, filed: dict[str, Any]
) -> None:
    case = filed.get("patrol")
    assert case, "runs after the patrol report"
    lon, lat = beat["point"]
    second = http.post(
        "/api/incidents",
        headers=bearer(dispatcher),
        json={
            "lon": lon + 0.0002,
            "lat": lat + 0.0001,
            "category": CATEGORY,
            "description": "市民来电：路边有垃圾",
            "reporter": {"phone": "13900000000"},
        },
    )
    assert second.status_code == 201, second.text
    duplicate = second.json()["id"]
    assert case in [d["id"] for d in second.json()["duplicates"]]
    d = session_factory(phone=True, token=dispatcher)
    d.goto("/app/dispatch", tiles=False)
    _open_in_dispatch(d, duplicate)
    d.page.wait_for_selector(f"#duplicates li[data-duplicate='{case}']")
    assert "步行" in d.page.inner_text("#duplicates")
    assert d.layout_problems() == []
    d.page.locator("#duplicates").scroll_into_view_if_needed()
    d.screenshot("phone-dispatch-loop-duplicates", map_drawn=False)
    d.page.tap(f"#duplicates [data-merge='{case}']")
    assert f"#{case}" in wait_status(d, "ok")
    d.page.wait_for_selector(f"#created [data-merged-into='{case}']")
    merged = _incident(http, dispatcher, duplicate)
    assert merged["merged_into"] == case
    assert duplicate in _incident(http, dispatcher, case)["duplicates_merged"]
    d.check_clean()
    filed["duplicate"] = duplicate


def test_the_worker_handles_it_and_the_callback_reopens_then_closes_it(
    session_factory,
    http: httpx.Client,
    demo_db: Database,
    beat: dict[str, Any],
    dispatcher: str,
    filed: dict[str, Any],
    tmp_path,
) -> None:
    case, duplicate = filed.get("patrol"), filed.get("duplicate")
    assert case and duplicate, "runs after the report and the merge"
    for step in ("filed", "dispatched"):
        moved = http.post(f"/api/incidents/{case}/transition", json={"to": step}, headers=bearer(dispatcher))
        assert moved.status_code == 200, moved.text
    after_photo = tmp_path / "after.jpg"
    after_photo.write_bytes(phone_jpeg(320, 240, colour=(30, 160, 60)))

    def handle() -> None:
        """The worker takes the case from their grid's list and reports it handled with a photo."""
        w = session_factory(phone=True, token=beat["token"])
        w.goto("/app/worker", tiles=False)
        w.page.tap("#tab-cases")
        w.page.tap(f"#cases li[data-incident='{case}']")
        w.page.wait_for_selector(f"#case[data-loaded='{case}']", state="attached")
        w.page.tap("#take")
        assert f"#{case}" in wait_status(w, "ok")
        w.page.wait_for_selector("#case [data-status=in_progress]")
        w.page.set_input_files("#resolve-photo", str(after_photo))
        assert w.layout_problems() == []
        w.page.locator("#resolve").scroll_into_view_if_needed()
        w.screenshot("phone-worker-case", map_drawn=False)
        w.page.tap("#resolve")
        w.page.wait_for_selector("#status.status.ok:has-text('回访')")
        w.check_clean()

    handle()
    assert _incident(http, dispatcher, case)["status"] == "resolved"
    assert "resolution" in [p["stage"] for p in _photos(demo_db, case)]
    assert _incident(http, dispatcher, duplicate)["status"] == "resolved"  # the duplicate follows its case

    # the callback: the caller is not satisfied, the case goes back to work (and its duplicate with it)
    d = session_factory(phone=True, token=dispatcher)
    d.goto("/app/dispatch", tiles=False)
    _open_in_dispatch(d, case)
    d.page.wait_for_selector("#callback")
    assert d.page.locator("#incident-photos figure.photo").count() == 2
    d.page.tap("#callback input[name=satisfaction][value=unsatisfied]")
    d.page.fill("#callback-note", "垃圾又堆起来了")
    assert d.layout_problems() == []
    d.page.locator("#callback").scroll_into_view_if_needed()
    d.screenshot("phone-dispatch-loop-callback", map_drawn=False)
    d.page.tap("#callback-save")
    assert "退回重办" in wait_status(d, "warn")
    d.page.wait_for_selector("#created [data-status=dispatched]")
    d.page.wait_for_selector("#calls li[data-callback=reopened]")
    assert _incident(http, dispatcher, case)["reopened"] == 1
    assert _incident(http, dispatcher, duplicate)["status"] == "dispatched"
    d.check_clean()

    # handled again; this time satisfied: closed, and Open311's public status says so. The dispatcher's page
    # is still open (a fresh one showed the resolved case and its callback form above): selecting the case
    # again fetches it as the worker left it
    handle()
    _open_in_dispatch(d, case)
    d.page.wait_for_selector("#created [data-status=resolved]")
    d.page.tap("#callback input[name=satisfaction][value=satisfied]")
    d.page.tap("#callback-save")
    assert "结案" in wait_status(d, "ok")
    d.page.wait_for_selector("#created [data-status=closed]")
    d.check_clean()
    assert _incident(http, dispatcher, case)["status"] == "closed"
    public = http.get(f"/open311/v2/requests/{case}.json", headers={"Accept-Language": "zh-CN"})
    assert public.status_code == 200, public.text
    assert public.json()[0]["status"] == "closed"
    # the notes (callers write names and numbers into them) for the dispatcher: what the callback decided
    full = http.get(
        f"/open311/v2/requests/{case}.json", headers={**bearer(dispatcher), "Accept-Language": "zh-CN"}
    )
    assert "满意" in full.json()[0]["status_notes"], full.json()[0]


def test_a_station_inspection_from_the_phone_shows_on_the_stations_and_leaves_the_overdue_list(
    session_factory, http: httpx.Client, demo_db: Database, tokens: dict[str, str], tmp_path
) -> None:
    """A worker inspects a rest station of their grid from the phone (an amenity missing, a photo); the
    stations page shows the visit; the planner's overdue list no longer has it (it had it before)."""
    stations = http.get("/api/stations").json()["features"]
    station, grid = None, None
    for feature in stations:
        if not feature["properties"].get("amenities"):
            continue
        lon, lat = feature["geometry"]["coordinates"]
        located = http.get("/api/locate", params={"lon": lon, "lat": lat}).json()
        if located.get("grid"):
            station, grid = feature, located["grid"]["code"]
            break
    assert station is not None, "a demo station with amenities lies in a demo grid"
    planner = session_factory(phone=True, token=tokens["planner"])
    planner.goto("/app/planner", tiles=False)
    planner.page.wait_for_selector("#inspections[data-loaded=true]", state="attached")
    assert planner.page.locator(f"#overdue li[data-station-id='{station['id']}']").count() == 1

    worker = create_token(demo_db, "worker", "网格员周七", grids=[grid])
    photo = tmp_path / "station.jpg"
    photo.write_bytes(phone_jpeg(200, 150, colour=(90, 90, 200)))
    missing = station["properties"]["amenities"][0]
    w = session_factory(phone=True, token=worker)
    w.goto("/app/worker", tiles=False)
    w.page.tap("#tab-stations")
    w.page.tap(f"#inspect-list li[data-station-id='{station['id']}']")
    w.page.wait_for_selector("#inspection-form")
    w.page.locator(f"#inspection-form [data-amenity='{missing}']").uncheck()
    w.page.fill("#inspection-notes", "热水器坏了")
    w.page.set_input_files("#inspection-photo", str(photo))
    assert w.layout_problems() == []
    w.screenshot("phone-worker-inspection", map_drawn=False)
    w.page.tap("#inspection-save")
    assert station["properties"]["name"] in wait_status(w, "ok")
    w.page.wait_for_selector(
        f"#inspect-list li[data-station-id='{station['id']}'] [data-last]:has-text('缺少')"
    )
    w.check_clean()
    visits = http.get(f"/api/stations/{station['id']}/inspections", headers=bearer(worker)).json()[
        "inspections"
    ]
    assert (
        visits[0]["missing"] == [missing] and visits[0]["notes"] == "热水器坏了" and visits[0]["photos"] == 1
    )

    # the stations page (anyone's phone) shows the last visit on the station's card
    lon, lat = station["geometry"]["coordinates"]
    s = session_factory(phone=True, geolocation=(lon, lat))
    s.goto("/app/stations", tiles=False)
    for chip in s.page.locator("#filters .chip[aria-pressed=true]").all():
        chip.tap()  # every station, open now or not
    s.page.tap("#locate")
    card = f".station[data-station-id='{station['id']}'] [data-inspection=problem]"
    s.page.wait_for_selector(card)
    assert "缺少" in s.page.inner_text(card)
    s.check_clean()

    planner.page.reload()
    planner.page.wait_for_selector("#inspections[data-loaded=true]", state="attached")
    assert planner.page.locator(f"#overdue li[data-station-id='{station['id']}']").count() == 0
    assert planner.page.locator("#overdue li[data-station-id]").count() > 0  # the others are still due
    planner.check_clean()
