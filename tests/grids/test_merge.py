"""Merging sibling grids: one transaction, versions checked, nothing changes on any problem."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.grids.conftest import feature, hierarchy, origin_for
from tests.grids.conftest import rect as _rect

PREFIX = "110109"
PARENT = f"{PREFIX}001001"


def rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    return _rect(x0, y0, x1, y1, origin_for(PREFIX))


def _grids(client: TestClient, headers: dict[str, str]) -> None:
    if client.get(f"/api/grids/{PARENT}").status_code == 404:
        r = client.post(
            "/api/grids/import",
            headers=headers,
            json={
                "type": "FeatureCollection",
                "features": [
                    *hierarchy(PREFIX),
                    feature(f"{PARENT}001", rect(0, 0, 500, 500), parent=PARENT, households=300),
                    feature(f"{PARENT}002", rect(500, 0, 1000, 500), parent=PARENT, households=200),
                    feature(f"{PARENT}003", rect(0, 600, 500, 1000), parent=PARENT),
                ],
            },
        )
        assert r.status_code == 200, r.text


def test_merge_is_one_atomic_write(client: TestClient, planner_headers: dict[str, str]) -> None:
    _grids(client, planner_headers)
    a, b, far = f"{PARENT}001", f"{PARENT}002", f"{PARENT}003"
    # apart: refused, nothing changes
    v1 = {**planner_headers, "If-Match": '"1"'}
    apart = client.post(f"/api/grids/{a}/merge", json={"absorb": [far]}, headers=v1)
    assert apart.status_code == 422 and "pieces" in str(apart.json()["detail"])
    assert client.get(f"/api/grids/{far}").status_code == 200
    # stale version of the absorbed grid: 412, nothing changes
    stale = client.post(f"/api/grids/{a}/merge", json={"absorb": [b], "versions": {b: 9}}, headers=v1)
    assert stale.status_code == 412
    # a merge rewrites this area: it must name the version it read
    blind = client.post(
        f"/api/grids/{a}/merge", json={"absorb": [b], "versions": {b: 1}}, headers=planner_headers
    )
    assert blind.status_code == 428 and blind.json()["code"] == "request.if_match_required"
    assert client.get(f"/api/grids/{b}").status_code == 200
    merged = client.post(
        f"/api/grids/{a}/merge",
        json={"absorb": [b], "versions": {b: 1}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert merged.status_code == 200, merged.text
    props = merged.json()["feature"]["properties"]
    assert props["version"] == 2 and props["households"] == 500
    gone = client.get(f"/api/grids/{b}")
    assert gone.status_code == 404
    assert (
        client.get(f"/api/grids/{b}/history").json()["features"][-1]["properties"]["closed_change"] == "merge"
    )
    located = client.get(
        "/api/locate", params=dict(zip(("lon", "lat"), _centre(rect(600, 100, 900, 400)), strict=True))
    )
    assert located.json()["grid"]["code"] == a


def _centre(geometry: dict) -> tuple[float, float]:
    ring = geometry["coordinates"][0]
    return (sum(p[0] for p in ring[:-1]) / (len(ring) - 1), sum(p[1] for p in ring[:-1]) / (len(ring) - 1))


def test_merge_needs_planner_and_siblings(client: TestClient, planner_headers, dispatcher_headers) -> None:
    _grids(client, planner_headers)
    assert (
        client.post(
            f"/api/grids/{PARENT}001/merge", json={"absorb": [f"{PARENT}003"]}, headers=dispatcher_headers
        ).status_code
        == 403
    )
    v1 = {**planner_headers, "If-Match": '"1"'}
    cousin = client.post(f"/api/grids/{PARENT}003/merge", json={"absorb": [PARENT]}, headers=v1)
    assert cousin.status_code == 422 and "siblings" in str(cousin.json()["detail"])
    assert (
        client.post(f"/api/grids/{PARENT}003/merge", json={"absorb": []}, headers=planner_headers).status_code
        == 422
    )
