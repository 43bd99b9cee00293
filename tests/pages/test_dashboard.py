"""/app/dashboard in a real browser at desktop and phone size, over the demo district and its incidents: choose an
area and period, read the same numbers as GET /api/stats/dashboard, download CSV and XLSX, print the A4 report,
switch to English; without a dispatcher token it says so and shows no figures."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import httpx
from openpyxl import load_workbook

from tests.pages.conftest import ARTIFACTS, Session

PERIOD = ("2026-09-01", "2026-12-03")


def _number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def _areas(http: httpx.Client, token: str) -> list[dict]:
    response = http.get("/api/stats/dashboard/areas", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["areas"]


def _api(http: httpx.Client, token: str, level: str, code: str, since: str, until: str) -> dict:
    response = http.get(
        "/api/stats/dashboard",
        params={"level": level, "code": code, "since": since, "until": until},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _choose(session: Session, level: str, code: str, since: str, until: str) -> None:
    page = session.page
    page.select_option("#level", level)
    page.select_option("#area", code)
    page.fill("#since", since)
    page.fill("#until", until)
    page.click("#show")
    session.wait_for(
        "([code, since]) => document.body.dataset.loaded === 'true' && gs.state.report"
        " && gs.state.report.area.code === code && gs.state.report.period.since === since",
        arg=[code, since],
    )


def _shown(session: Session) -> dict[str, int]:
    return {
        key: _number(session.page.inner_text(f'.kpi[data-key="{key}"] .value'))
        for key in ("reported", "accepted", "transferred", "completed", "on_time", "overdue", "escalated")
    }


def _matches(session: Session, report: dict) -> None:
    summary = report["summary"]
    assert _shown(session) == {
        k: summary[k]
        for k in ("reported", "accepted", "transferred", "completed", "on_time", "overdue", "escalated")
    }
    on_time = session.page.inner_text('.kpi[data-key="on_time"] .rate')
    assert on_time == ("—" if summary["on_time_rate"] is None else f"{summary['on_time_rate'] * 100:.1f}%")
    rows = session.page.locator("#grid-table tbody tr")
    assert rows.count() == len(report["grids"])
    shown_grids = {
        rows.nth(k).get_attribute("data-code"): _number(rows.nth(k).locator("td").nth(2).inner_text())
        for k in range(rows.count())
    }
    assert shown_grids == {g["code"]: g["reported"] for g in report["grids"]}
    # the choropleth draws every grid of the area
    drawn = session.page.evaluate("() => gs.state.gridShapes.features.map((f) => f.properties.code).sort()")
    assert drawn == sorted(g["code"] for g in report["grids"])
    assert session.page.locator("#chart-weeks canvas").count() >= 1
    assert session.page.locator("#chart-settled canvas").count() >= 1


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _children(session: Session, report: dict) -> None:
    """The child areas' table shows every child with the API's figures, and sorts by a header click."""
    page = session.page
    assert page.is_visible("#children") == bool(report["areas"])
    rows = page.locator("#area-table tbody tr")
    assert rows.count() == len(report["areas"])
    shown = {}
    for k in range(rows.count()):
        row = rows.nth(k)
        shown[row.get_attribute("data-code")] = (
            _number(row.locator('td[data-key="reported"]').inner_text()),
            row.locator('td[data-key="on_time_rate"]').inner_text(),
            tuple(
                row.locator(f'td[data-key="settled_{lv}_share"]').inner_text()
                for lv in ("grid", "community", "street", "district")
            ),
        )
    assert shown == {
        a["code"]: (
            a["reported"],
            _pct(a["on_time_rate"]),
            tuple(_pct(a[f"settled_{lv}_share"]) for lv in ("grid", "community", "street", "district")),
        )
        for a in report["areas"]
    }
    if not report["areas"]:
        return

    def order() -> list[str]:
        return [rows.nth(k).get_attribute("data-code") for k in range(rows.count())]

    def expected(descending: bool) -> list[str]:
        known = [a for a in report["areas"] if a["on_time_rate"] is not None]
        known.sort(key=lambda a: a["code"])
        known.sort(key=lambda a: a["on_time_rate"], reverse=descending)
        unknown = sorted(a["code"] for a in report["areas"] if a["on_time_rate"] is None)
        return [a["code"] for a in known] + unknown

    header = page.locator('#area-table th:has(button[data-sort="on_time_rate"])')
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert order() == expected(descending=True)
    page.locator('#area-table button[data-sort="on_time_rate"]').click()
    assert (
        page.locator('#area-table th:has(button[data-sort="on_time_rate"])').get_attribute("aria-sort")
        == "ascending"
    )
    assert order() == expected(descending=False)


def test_dashboard_on_a_desktop(session_factory, http: httpx.Client, tokens) -> None:
    token = tokens["dispatcher"]
    areas = _areas(http, token)
    district = next(a for a in areas if a["level"] == "district")
    streets = [a for a in areas if a["level"] == "street" and a["parent_code"] == district["code"]]
    session = session_factory(token=token)
    session.goto("/app/dashboard", tiles=False)
    # opens on the first district over the last year
    session.wait_for("() => document.body.dataset.loaded === 'true'")
    first = session.page.evaluate("() => gs.state.report")
    assert first["area"]["code"] == district["code"] and first["period"]["days"] == 365
    _matches(
        session,
        _api(http, token, "district", district["code"], first["period"]["since"], first["period"]["until"]),
    )
    assert first["summary"]["reported"] > 0 and first["summary"]["completed"] > 0
    # the district's streets, each with its on-time rate and where its cases were settled
    assert session.page.inner_text("#children-title") == "各街道"
    assert {a["code"] for a in first["areas"]} == {s["code"] for s in streets}
    _children(session, first)

    # choose a street and a period: the numbers are the API's
    street = max(
        streets, key=lambda s: _api(http, token, "street", s["code"], *PERIOD)["summary"]["reported"]
    )
    _choose(session, "street", street["code"], *PERIOD)
    report = _api(http, token, "street", street["code"], *PERIOD)
    assert report["summary"]["reported"] > 0
    _matches(session, report)
    assert street["code"] in session.page.inner_text("#period-note")
    assert "小事不出网格" in session.page.inner_text(
        "aside.panel"
    ) or "网格内办结" in session.page.inner_text("#settled-note")
    session.page.select_option("#map-mode", "on_time")
    session.page.wait_for_selector("#legend .swatch.ramp-0")
    session.wait_map()
    session.screenshot("dashboard-desktop")

    # downloads: the weekly CSV and the workbook say what the page says
    with session.page.expect_download() as info:
        session.page.click("#dl-csv-weeks")
    weeks_csv = info.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(weeks_csv)))
    assert rows[0][0] == "周（周一）"
    assert [(r[0], int(r[1])) for r in rows[1:]] == [(w["week"], w["reported"]) for w in report["weeks"]]
    assert info.value.suggested_filename.endswith("-weeks.csv")
    with session.page.expect_download() as info:
        session.page.click("#dl-xlsx")
    book = load_workbook(io.BytesIO(info.value.path().read_bytes()))
    summary = {row[0]: row[1] for row in book["总览"].iter_rows(min_row=2, values_only=True)}
    assert summary["上报"] == report["summary"]["reported"]
    assert summary["按时办结"] == report["summary"]["on_time"]

    # the printable A4 report: the print stylesheet hides the controls; the PDF has A4 pages with the figures
    session.page.emulate_media(media="print")
    assert session.page.is_hidden("#choose") and session.page.is_hidden("#dl-xlsx")
    assert session.page.is_visible("#print-title")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "dashboard-report.pdf"
    session.page.pdf(path=str(pdf), format="A4", print_background=True)
    info_text = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d* x 84[12]\.\d* pts \(A4\)", info_text), info_text
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert street["name"] in text and f"{report['summary']['reported']:,}" in text
    assert "下载与打印" not in text and "令牌" not in text  # the controls stay off paper
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(ARTIFACTS / "dashboard-report")],
        check=True,
    )
    session.page.emulate_media(media="screen")

    # English
    session.page.click("#lang")
    session.wait_for("() => document.documentElement.lang === 'en'")
    assert session.page.inner_text('.kpi[data-key="reported"] .label') == "Reported"
    assert _shown(session)["reported"] == report["summary"]["reported"]
    session.check_clean()


def test_dashboard_on_a_phone(session_factory, http: httpx.Client, tokens) -> None:
    token = tokens["admin"]
    areas = _areas(http, token)
    community = next(a for a in areas if a["level"] == "community")
    session = session_factory(phone=True, hidpi=True, token=token)
    session.goto("/app/dashboard", tiles=False)
    session.wait_for("() => document.body.dataset.loaded === 'true'")
    _choose(session, "community", community["code"], *PERIOD)
    report = _api(http, token, "community", community["code"], *PERIOD)
    _matches(session, report)
    assert report["areas"] and session.page.inner_text("#children-title") == "各网格"
    _children(session, report)
    session.page.locator("#children").scroll_into_view_if_needed()
    session.screenshot("phone-dashboard-children")
    session.wait_map()
    assert session.layout_problems() == []
    session.screenshot("phone-dashboard")
    # the sheet opened full: the figures and the charts fit the phone's width
    session.page.click(".sheet-handle")
    session.wait_for("() => document.querySelector('aside.panel').dataset.sheet !== 'half'")
    width = session.page.evaluate(
        "() => document.getElementById('chart-weeks').getBoundingClientRect().width"
    )
    assert 300 <= width <= 390
    session.check_clean()


def test_dashboard_without_a_token(session_factory, tokens, http: httpx.Client) -> None:
    session = session_factory()
    session.goto("/app/dashboard", tiles=False)
    assert "调度员或管理员令牌" in session.page.inner_text("#status")
    assert session.page.is_hidden("#report")
    assert session.page.evaluate("() => gs.state.report") is None
    session.check_clean(allowed={"/api/stats/dashboard/areas": {401}})
    planner = session_factory(token=tokens["planner"])
    planner.goto("/app/dashboard", tiles=False)
    assert "调度员或管理员令牌" in planner.page.inner_text("#status")
    planner.check_clean(allowed={"/api/stats/dashboard/areas": {403}})
