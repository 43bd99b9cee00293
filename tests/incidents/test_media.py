"""Photos on incidents over HTTP: uploaded by the grid's worker or a dispatcher, stored cleaned with a checksum
and a thumbnail, read only by those who handle the incident, and bad files refused with nothing stored; Open311
multipart ``media`` and ``media_url``."""

from __future__ import annotations

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from geo_service.auth import create_token
from geo_service.db.pool import Database
from tests.incidents.areas import GRID_1, GRID_2, POINTS, incident
from tests.media import photos

pytestmark = pytest.mark.usefixtures("areas")
OPEN311 = "/open311/v2"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def workers(db: Database, areas: None) -> dict[str, dict[str, str]]:
    return {
        "grid_1": bearer(create_token(db, "worker", "w1", grids=[GRID_1])),
        "grid_2": bearer(create_token(db, "worker", "w2", grids=[GRID_2])),
    }


def _stored(db: Database, incident_id: int) -> tuple[int, int]:
    """(photos, history entries) of an incident: what a refused upload must leave as it was."""
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM media WHERE incident_id = %s", (incident_id,))
        photos_n = int(cur.fetchone()["n"])
        cur.execute("SELECT count(*) AS n FROM incident_history WHERE incident_id = %s", (incident_id,))
        return photos_n, int(cur.fetchone()["n"])


def _upload(
    client: TestClient,
    incident_id: int,
    data: bytes,
    headers: dict,
    name: str = "photo.jpg",
    stage: str | None = None,
):
    form = {"stage": stage} if stage else None
    return client.post(
        f"/api/incidents/{incident_id}/media",
        files={"file": (name, data, "image/jpeg")},
        data=form,
        headers=headers,
    )


def test_upload_list_and_read(
    client: TestClient, db: Database, dispatcher_headers: dict, workers: dict
) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    upload = photos.phone_jpeg(800, 600)
    sent = _upload(client, incident_id, upload, workers["grid_1"], stage="report")
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo["content_type"] == "image/jpeg" and (photo["width"], photo["height"]) == (800, 600)
    assert photo["created"] is True and photo["url"].endswith(
        f"/api/incidents/{incident_id}/media/{photo['id']}"
    )
    listed = client.get(f"/api/incidents/{incident_id}/media", headers=dispatcher_headers).json()["media"]
    assert [p["id"] for p in listed] == [photo["id"]] and listed[0]["sha256"] == photo["sha256"]
    full = client.get(listed[0]["url"], headers=dispatcher_headers)
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(full.content).hexdigest() == photo["sha256"]  # the checksum is of what is served
    assert b"GPS" not in full.content and b"PhoneMaker" not in full.content
    thumb = client.get(listed[0]["thumbnail_url"], headers=workers["grid_1"])
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 320
    # the same file again (a phone resending its queue): the same photo, nothing new
    before = _stored(db, incident_id)
    again = _upload(client, incident_id, upload, workers["grid_1"])
    assert (
        again.status_code == 200 and again.json()["id"] == photo["id"] and _stored(db, incident_id) == before
    )
    history = client.get(f"/api/incidents/{incident_id}/history", headers=dispatcher_headers).json()[
        "history"
    ]
    assert [h["detail"]["media_id"] for h in history if h["action"] == "media"] == [photo["id"]]


def test_only_those_who_handle_the_incident_see_its_photos(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict, workers: dict
) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    photo = _upload(client, incident_id, photos.phone_jpeg(), dispatcher_headers).json()
    urls = [f"/api/incidents/{incident_id}/media", photo["url"], photo["thumbnail_url"]]
    for url in urls:
        assert client.get(url).status_code == 401
        assert client.get(url, headers=planner_headers).status_code == 403
        refused = client.get(url, headers=workers["grid_2"])
        assert refused.status_code == 403 and refused.json()["code"] == "media.forbidden"
        assert client.get(url, headers=workers["grid_1"]).status_code == 200
    assert _upload(client, incident_id, photos.phone_jpeg(), workers["grid_2"]).status_code == 403
    assert (
        client.get(f"/api/incidents/{incident_id}/media/999999", headers=dispatcher_headers).status_code
        == 404
    )
    other = incident(client, dispatcher_headers, "grid_1").json()["id"]
    assert (
        client.get(f"/api/incidents/{other}/media/{photo['id']}", headers=dispatcher_headers).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("report.jpg", photos.pdf_named_jpg(), 415, "media.unsupported_type"),
        ("huge.jpg", photos.fifty_megabytes(), 413, "media.too_large"),
        ("bomb.png", photos.decompression_bomb(), 422, "media.too_many_pixels"),
        ("cut.jpg", photos.truncated_jpeg(), 422, "media.unreadable"),
        ("empty.jpg", b"", 422, "media.empty"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    client: TestClient, db: Database, dispatcher_headers: dict, name: str, data: bytes, status: int, code: str
) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    before = _stored(db, incident_id)
    refused = _upload(client, incident_id, data, dispatcher_headers, name=name)
    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code and refused.json()["message"]
    assert _stored(db, incident_id) == before


def test_upload_shape_errors(client: TestClient, dispatcher_headers: dict) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    url = f"/api/incidents/{incident_id}/media"
    assert client.post(url, json={"file": "x"}, headers=dispatcher_headers).status_code == 415
    no_file = client.post(url, data={"other": "x"}, files={"x": ("a.jpg", b"1")}, headers=dispatcher_headers)
    assert no_file.status_code == 400 and no_file.json()["code"] == "media.file_field"
    stage = _upload(client, incident_id, photos.phone_jpeg(), dispatcher_headers, stage="selfie")
    assert stage.status_code == 422 and stage.json()["code"] == "media.unknown_stage"
    assert _upload(client, 999999, photos.phone_jpeg(), dispatcher_headers).status_code == 404


def _incidents(db: Database) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM incidents")
        return int(cur.fetchone()["n"])


def test_open311_multipart_media_and_media_url(
    client: TestClient, db: Database, dispatcher_headers: dict
) -> None:
    token = dispatcher_headers["Authorization"].removeprefix("Bearer ")
    lon, lat = POINTS["grid_1"]
    form = {
        "api_key": token,
        "service_code": "E0102",
        "lat": str(lat),
        "long": str(lon),
        "description": "门口垃圾",
    }
    created = client.post(
        f"{OPEN311}/requests.json", data=form, files={"media": ("IMG_0001.HEIC", photos.heic(), "image/heic")}
    )
    assert created.status_code == 201, created.text
    request_id = created.json()[0]["service_request_id"]
    full = client.get(f"{OPEN311}/requests/{request_id}.json", headers=dispatcher_headers).json()[0]
    assert full["media_url"].endswith(
        f"/api/incidents/{request_id}/media/" + full["media_url"].rsplit("/", 1)[1]
    )
    photo = client.get(full["media_url"], headers=dispatcher_headers)
    assert photo.status_code == 200 and Image.open(io.BytesIO(photo.content)).format == "JPEG"
    assert client.get(full["media_url"]).status_code == 401  # the link needs the token that saw it
    public = client.get(f"{OPEN311}/requests/{request_id}.json").json()[0]
    assert public["media_url"] is None
    # a bad file: refused, no request created
    before = _incidents(db)
    for name, data, status in (
        ("x.jpg", photos.pdf_named_jpg(), 400),
        ("big.jpg", photos.fifty_megabytes(), 413),
    ):
        refused = client.post(
            f"{OPEN311}/requests.json", data=form, files={"media": (name, data, "image/jpeg")}
        )
        assert refused.status_code == status and refused.json()[0]["description"]
    other = client.post(
        f"{OPEN311}/requests.json", data=form, files={"photo": ("a.jpg", photos.phone_jpeg())}
    )
    assert other.status_code == 400
    assert _incidents(db) == before
