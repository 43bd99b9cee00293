"""The same-site rule: a candidate with a fixed site's id, or within GEO_SERVICE_SITING_SAME_SITE_M of one,
is that site and is excluded before solving (so a fixed site is never chosen twice)."""

from __future__ import annotations

from geo_service.siting.model import Site
from geo_service.siting.service import exclude_fixed


def test_same_id_or_within_the_distance_is_the_fixed_site() -> None:
    fixed = [Site("s1", 24.9400, 60.1700), Site(7, 24.9500, 60.1750)]
    candidates = [
        Site("a", 24.94003, 60.17001),  # about 2 m from s1
        Site("b", 24.94020, 60.17000),  # about 11 m from s1
        Site("7", 24.9300, 60.1600),  # the id of the second fixed site (compared as text), elsewhere
        Site("c", 24.9600, 60.1800),
    ]
    kept, excluded = exclude_fixed(candidates, fixed, same_site_m=5.0)
    assert [c.id for c in kept] == ["b", "c"]
    assert [c.id for c in excluded] == ["a", "7"]
    kept, excluded = exclude_fixed(candidates, fixed, same_site_m=20.0)
    assert [c.id for c in kept] == ["c"]
    kept, excluded = exclude_fixed(candidates, [], same_site_m=20.0)
    assert kept == candidates and excluded == []
