"""GCJ-02 / BD-09 conversion: exact inverses (< 1 cm round trip), agreement with an independent forward
implementation (prcoords), and input checks."""

from __future__ import annotations

import math

import numpy as np
import prcoords
import pytest

from geo_service import coords
from geo_service.crs import metres_per_degree
from geo_service.errors import InvalidInput


def _max_error_m(lon: np.ndarray, lat: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> float:
    kx, ky = metres_per_degree(35.0)
    return float(
        np.max(
            np.hypot(
                (lon2 - lon) * kx / math.cos(math.radians(35)) * np.cos(np.radians(lat)), (lat2 - lat) * ky
            )
        )
    )


@pytest.fixture(scope="module")
def china() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.uniform(73.7, 134.9, 200_000), rng.uniform(18.2, 53.4, 200_000)


def test_forward_matches_prcoords(china: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china[0][:3000], china[1][:3000]
    glon, glat = coords.wgs84_to_gcj02_arrays(lon, lat)
    blon, blat = coords.gcj02_to_bd09_arrays(glon, glat)
    for k in range(0, 3000, 7):
        ref = prcoords.wgs_gcj((lat[k], lon[k]))
        assert abs(ref.lon - glon[k]) < 1e-12 and abs(ref.lat - glat[k]) < 1e-12
        ref_bd = prcoords.gcj_bd((glat[k], glon[k]))
        assert abs(ref_bd.lon - blon[k]) < 1e-12 and abs(ref_bd.lat - blat[k]) < 1e-12


def test_gcj02_round_trip_under_1cm(china: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china
    glon, glat = coords.from_wgs84_arrays(lon, lat, "gcj02")
    assert np.max(np.hypot(glon - lon, glat - lat)) > 1e-3, "the offset is hundreds of metres"
    back_lon, back_lat = coords.to_wgs84_arrays(glon, glat, "gcj02")
    assert _max_error_m(lon, lat, back_lon, back_lat) < 0.01
    # and the other way: WGS → GCJ of the inverse gives the input back
    wlon, wlat = coords.to_wgs84_arrays(lon, lat, "gcj02")
    again_lon, again_lat = coords.from_wgs84_arrays(wlon, wlat, "gcj02")
    assert _max_error_m(lon, lat, again_lon, again_lat) < 0.01


def test_bd09_round_trip_under_1cm(china: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china
    blon, blat = coords.from_wgs84_arrays(lon, lat, "bd09")
    back_lon, back_lat = coords.to_wgs84_arrays(blon, blat, "bd09")
    assert _max_error_m(lon, lat, back_lon, back_lat) < 0.01
    one = coords.to_wgs84(*coords.from_wgs84(116.397428, 39.90923, "bd09"), "bd09")
    assert abs(one[0] - 116.397428) < 1e-9 and abs(one[1] - 39.90923) < 1e-9


def test_one_step_inverse_would_not_do(china: tuple[np.ndarray, np.ndarray]) -> None:
    """Why the iteration: the one-step inverse most small libraries use errs by metres."""
    lon, lat = china[0][:2000], china[1][:2000]
    glon, glat = coords.wgs84_to_gcj02_arrays(lon, lat)
    rough = np.array([prcoords.gcj_wgs((b, a)) for a, b in zip(glon, glat, strict=True)])
    assert _max_error_m(lon, lat, rough[:, 1], rough[:, 0]) > 0.5


def test_outside_china_is_unchanged_and_cgcs2000_is_wgs84() -> None:
    assert coords.to_wgs84(24.94, 60.17, "gcj02") == (24.94, 60.17)
    assert coords.to_wgs84(116.4, 39.9, "cgcs2000") == (116.4, 39.9)
    assert coords.normalise_crs("EPSG:4490") == "cgcs2000" and coords.normalise_crs(None) == "wgs84"


@pytest.mark.parametrize(
    ("lon", "lat", "words"),
    [
        (float("nan"), 39.9, "finite"),
        (116.4, float("inf"), "finite"),
        (39.9, 116.4, "swapped"),
        (200.0, 10.0, "longitude"),
        (116.4, -95.0, "latitude"),
    ],
)
def test_bad_coordinates(lon: float, lat: float, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        coords.check_lonlat(lon, lat)


def test_unknown_crs() -> None:
    with pytest.raises(InvalidInput, match="unknown crs"):
        coords.normalise_crs("mars")
