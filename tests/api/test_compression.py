"""Responses are compressed as the client asks: Brotli, else gzip, else not at all."""

from __future__ import annotations

import gzip

import brotli
import pytest
from fastapi.testclient import TestClient

ISOCHRONE = {"lon": 24.9414, "lat": 60.1699, "minutes": "5,10,15"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("br, gzip", "br"),
        ("gzip, deflate", "gzip"),
        ("identity", None),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
    ],
)
def test_negotiated_encoding(client: TestClient, accept: str, expected: str | None) -> None:
    raw = client.get("/api/isochrones", params=ISOCHRONE, headers={"Accept-Encoding": "identity"})
    r = client.stream("GET", "/api/isochrones", params=ISOCHRONE, headers={"Accept-Encoding": accept})
    with r as response:
        body = b"".join(response.iter_raw())
        assert response.headers.get("content-encoding") == expected
        if expected:
            assert "Accept-Encoding" in response.headers["vary"]
            assert len(body) < len(raw.content) / 3
            unpacked = brotli.decompress(body) if expected == "br" else gzip.decompress(body)
            assert unpacked == raw.content


def test_small_bodies_and_validated_ones_are_left_alone(client: TestClient) -> None:
    small = client.get("/healthz", headers={"Accept-Encoding": "br"})
    assert "content-encoding" not in small.headers
    station = client.get("/api/stations/vocabulary", headers={"Accept-Encoding": "br"})
    assert station.status_code == 200
