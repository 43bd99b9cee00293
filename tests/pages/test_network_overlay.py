"""The planner page's comparison of a department network with the unified grids, in a real browser: a police
network made from the demo grids of one community shifted 3 m east is imported through the API; the planner
shows its `networks:police` tile layer over the grids and lists the same boundary mismatches as the crosswalk."""

from __future__ import annotations

import httpx

from tests.pages.conftest import DESKTOP

SHIFT_DEG = 0.00005  # ≈ 2.8 m east at Helsinki's latitude: near the unified boundaries without following them


def _shifted(geometry: dict) -> dict:
    def move(coords: list) -> list:
        if isinstance(coords[0], float | int):
            return [coords[0] + SHIFT_DEG, *coords[1:]]
        return [move(c) for c in coords]

    return {"type": geometry["type"], "coordinates": move(geometry["coordinates"])}


def _import_police(http: httpx.Client, token: str) -> dict:
    grids = http.get("/api/grids", params={"level": "grid"}).json()["features"]
    community = grids[0]["properties"]["parent_code"]
    cells = [
        {
            "type": "Feature",
            "geometry": _shifted(g["geometry"]),
            "properties": {"code": f"P{k:03d}", "name": f"警务网格{k}"},
        }
        for k, g in enumerate((g for g in grids if g["properties"]["parent_code"] == community), start=1)
    ]
    response = http.post(
        "/api/networks/police/import",
        params={"department": "公安局"},
        json={"type": "FeatureCollection", "features": cells},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    crosswalk = http.get("/api/networks/police/crosswalk")
    assert crosswalk.status_code == 200, crosswalk.text
    return crosswalk.json()


def test_planner_compares_a_network_with_the_grids(session_factory, http: httpx.Client, tokens) -> None:
    crosswalk = _import_police(http, tokens["planner"])
    mismatches = crosswalk["mismatches"]["features"]
    assert mismatches, "a 3 m shift must give boundary mismatches"
    session = session_factory(viewport=DESKTOP, token=tokens["planner"])
    session.goto("/app/planner")
    page = session.page
    assert page.inner_text("#nw-network option").startswith("police（公安局")
    # the network's own tile layer over the grids
    page.check("#nw-show")
    session.wait_for("() => gs.ctx.gl.getMaplibreMap().getLayer('networks:police-line') !== undefined")
    page.click("#nw-list")
    page.wait_for_selector("#nw-mismatches li")
    items = page.locator("#nw-mismatches li")
    assert items.count() == len(mismatches)
    assert str(len(mismatches)) in page.inner_text("#nw-status")
    # the lines are drawn: the network's (orange) and the unified one to adopt (green dashes)
    assert page.evaluate("() => gs.networks.mismatches.length") == len(mismatches)
    session.wait_map()
    drawn = page.evaluate(
        "() => gs.ctx.gl.getMaplibreMap().queryRenderedFeatures({layers: ['networks:police-line']}).length"
    )
    assert drawn > 0
    first = mismatches[0]
    page.evaluate("() => gs.map.setView(gs.map.getCenter(), 12)")  # look from afar, then pick the first one
    items.first.click()
    # the map centres on it and shows the whole line
    session.wait_for(
        """() => { const b = gs.ctx.geoJSON(gs.networks.mismatches[0]).getBounds(), view = gs.map.getBounds();
                   return gs.map.getZoom() > 12 && view.contains(b) && view.pad(-0.2).contains(b.getCenter()); }"""
    )
    assert "active" in (items.first.get_attribute("class") or "")
    assert first["properties"]["cells"][0] in items.first.inner_text()
    session.screenshot("planner-network-mismatches")
    # hiding the layer removes it
    page.uncheck("#nw-show")
    session.wait_for("() => gs.ctx.gl.getMaplibreMap().getLayer('networks:police-line') === undefined")
    session.check_clean()
