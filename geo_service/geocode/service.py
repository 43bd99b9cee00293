"""Geocoding: a caller's address or place name → ranked candidates with a location.

Searches OSM addresses, named places, buildings and streets (the ``gazetteer`` table), facilities, rest stations
and current area names (grids, communities, streets, districts), in Chinese and Latin script. Candidates come from
pg_trgm; the ranking (:func:`geo_service.geocode.text.match_score`) adds character bigrams, containment and
house-number agreement, which is what makes short Chinese addresses such as ``中山路12号`` rank well.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.geocode.text import compact, match_score, normalize, search_text
from geo_service.store import gazetteer

MAX_QUERY_CHARS = 200
PER_SOURCE = 60
# when two candidates score the same: exact places before areas before streets
_KIND_RANK = {"address": 0, "station_address": 0, "station": 1, "facility": 1, "poi": 1, "building": 2,
              "street": 4, "grid": 5, "community": 5, "district": 6}  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """One answer: ``lon``/``lat`` in WGS-84 degrees, ``score`` 0..1 (1 = exact)."""

    name: str
    kind: str
    lon: float
    lat: float
    score: float
    source: str
    category: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lon"], out["lat"] = round(self.lon, 7), round(self.lat, 7)
        return out


@dataclass(frozen=True)
class Match:
    """The candidate an address-only intake used, and why it was safe to use it."""

    query: str
    candidate: Candidate
    runner_up: Candidate | None

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, **self.candidate.as_dict(),
                "runner_up": self.runner_up.as_dict() if self.runner_up else None}  # fmt: skip


def _check_query(query: str) -> str:
    text = (query or "").strip()
    if not text:
        raise InvalidInput("q must not be empty")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is longer than {MAX_QUERY_CHARS} characters")
    return text


def geocode(db: Database, query: str, limit: int = 10) -> list[Candidate]:
    """Candidates for ``query``, best first (at most ``limit``; one per name and place)."""
    text = _check_query(query)
    with db.cursor() as cur:
        rows = gazetteer.name_candidates(cur, search_text(text), PER_SOURCE)
    best: dict[tuple[str, float, float], Candidate] = {}
    for row in rows:
        if not row["name"]:
            continue
        candidate = Candidate(
            name=row["name"], kind=row["kind"], lon=float(row["lon"]), lat=float(row["lat"]),
            score=match_score(text, row["name"], float(row["trigram"] or 0.0)), source=row["source"],
            category=row["category"],
        )  # fmt: skip
        if candidate.score <= 0:
            continue
        # the same name drawn twice at one spot (a building and its entrance node, a POI and a facility)
        key = (compact(normalize(candidate.name)), round(candidate.lon, 4), round(candidate.lat, 4))
        if key not in best or candidate.score > best[key].score:
            best[key] = candidate
    ranked = sorted(best.values(), key=lambda c: (-c.score, _KIND_RANK.get(c.kind, 3), len(c.name), c.name))
    return ranked[:limit]


def distance_m(a: Candidate, b: Candidate) -> float:
    """Great-circle distance between two candidates, metres (haversine; ample for 'same place?')."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a.lon, a.lat, b.lon, b.lat))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def best_match(
    db: Database, query: str, min_score: float, margin: float, same_place_m: float, limit: int = 5
) -> Match:
    """The one candidate an address-only incident can be placed at.

    The best candidate is used when it scores at least ``min_score`` and no candidate elsewhere (farther than
    ``same_place_m``) comes within ``margin`` of it; an exact match (score 1) is only challenged by another
    exact match elsewhere.

    Raises
    ------
    InvalidInput
        No candidate, too weak a best one, or several at different places; ``extra["candidates"]`` lists them
        so the dispatcher can pick one and send its coordinates.
    """
    candidates = geocode(db, query, limit=max(limit, 10))
    shown = [c.as_dict() for c in candidates[:limit]]
    if not candidates:
        raise InvalidInput("geocode.no_match", query=query, extra={"candidates": []})
    best = candidates[0]
    if best.score < min_score:
        raise InvalidInput("geocode.not_confident", query=query, best=best.name, score=f"{best.score:.2f}",
                           min_score=min_score, extra={"candidates": shown})  # fmt: skip
    elsewhere = [c for c in candidates[1:] if distance_m(best, c) > same_place_m]
    rivals = [
        c for c in elsewhere if (c.score >= 1.0 if best.score >= 1.0 else c.score >= best.score - margin)
    ]
    if rivals:
        raise InvalidInput("geocode.ambiguous", query=query, best=best.name, rival=rivals[0].name,
                           distance_m=f"{distance_m(best, rivals[0]):.0f}", extra={"candidates": shown})  # fmt: skip
    return Match(query=query, candidate=best, runner_up=elsewhere[0] if elsewhere else None)
