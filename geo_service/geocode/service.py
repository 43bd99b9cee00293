"""Geocoding: a caller's address or place name → ranked candidates, each saying how precise it is.

Searches OSM addresses, named places, buildings and streets (the gazetteer), facilities, rest stations and
current area names (grids, communities, streets, districts), in Chinese (simplified or traditional, Chinese or
Arabic numerals, with or without the province/city/district in front), in pinyin (full or initials) and in
Latin script, through one index (``geocode_names``, :mod:`geo_service.geocode.keys`):

1. the query is folded and cut into its parts (:mod:`geo_service.geocode.parse`);
2. one statement looks everything up by index: the whole key, pinyin, initials, road + house number (also
   a road that sounds the same, 天和路 for 天河路, or is one typo away), compound + building, a key prefix,
   names one typo away (:func:`geo_service.store.gazetteer.exact_candidates`); pg_trgm similarity over
   the names of places, streets and areas only when that finds nothing;
3. each row is scored 0..1 (:func:`score_row`): text agreement (:func:`geo_service.geocode.text.key_score`),
   raised when the parts agree (same road and number; same compound and building), capped when they
   disagree (another house number, another road), and lowered when the query names another district;
4. every candidate carries its ``precision`` and the grid its point lands in.

:func:`best_match` decides whether an address alone may place an incident: only a house number, building
or POI, confident, with no rival elsewhere. Otherwise it raises :class:`~geo_service.errors.Conflict` (409)
with the candidates, so the dispatcher picks one or clicks the map.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import numpy as np
from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents the answers on Python 3.11

from geo_service.crs import haversine_m
from geo_service.db.pool import Database
from geo_service.errors import Conflict, InvalidInput
from geo_service.geocode.index import ensure_keyed
from geo_service.geocode.keys import FINE, PRECISIONS, variants
from geo_service.geocode.parse import AddressParts, compound_core, parse
from geo_service.geocode.text import key_score, pinyin_keys
from geo_service.i18n import Message, message
from geo_service.locate.lattice import OUTSIDE
from geo_service.locate.service import current_index
from geo_service.store import gazetteer
from geo_service.store.gazetteer import NameRow

MAX_QUERY_CHARS = 200
PER_BRANCH = 25
TRIGRAM_LIMIT = 30
CONFLICT_CAP = 0.5  # another house number, building or road than the query's: never enough to place anything
_PRECISION_RANK = {p: i for i, p in enumerate(PRECISIONS)}
# floors by how a row was found: the parts agreed although the texts differ (see score_row)
# a road that sounds the same (天和路 for 天河路) is far likelier what was meant than one a character away
_VIA_FLOOR = {
    "road": 0.97,
    "compound": 0.97,
    "pinyin": 0.95,
    "road_pinyin": 0.9,
    "road_typo": 0.75,
    "compound_typo": 0.8,
    "compound_place": 0.75,
}
_ADMIN_LEVEL_SUFFIXES = (
    ("省", "自治区", "特别行政区"),
    ("市", "州", "盟", "地区"),
    ("区", "县", "旗"),
    ("街道", "镇", "乡"),
)


class Place(TypedDict):
    """A candidate as plain JSON (stored with the incidents an address placed: no messages)."""

    name: str
    kind: str
    lon: Annotated[float, Field(description="WGS-84")]
    lat: float
    score: Annotated[float, Field(description="0..1, 1 = exact")]
    precision: Annotated[str, Field(description="house_number, building, poi, street, area or city")]
    grid_code: Annotated[str | None, Field(description="the grid the point lands in")]
    source: str
    category: str | None


class GeocodeCandidate(Place):
    """A candidate as the API lists it."""

    kind_name: Annotated[Message, Field(description="the kind in the reader's language")]


class Geocoded(TypedDict):
    query: str
    candidates: Annotated[list[GeocodeCandidate], Field(description="best first")]


class GeocodeMatch(Place):
    """What placed an incident by its address: the query, the candidate used (its members) and the runner-up."""

    query: str
    runner_up: Place | None


@dataclass(frozen=True)
class Candidate:
    """One answer: ``lon``/``lat`` in WGS-84 degrees, ``score`` 0..1 (1 = exact), ``precision`` (see
    :mod:`geo_service.geocode.keys`), ``grid_code`` the grid the point lands in (None outside every grid)."""

    name: str
    kind: str
    lon: float
    lat: float
    score: float
    source: str
    precision: str
    category: str | None = None
    grid_code: str | None = None
    source_id: int | None = None
    key: str = field(default="", compare=False)

    def as_dict(self) -> Place:
        """Plain JSON (stored with incidents): no messages."""
        return {
            "name": self.name,
            "kind": self.kind,
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "score": self.score,
            "precision": self.precision,
            "grid_code": self.grid_code,
            "source": self.source,
            "category": self.category,
        }

    def public(self) -> GeocodeCandidate:
        """What the API shows: :meth:`as_dict` and ``kind_name``, the kind in the reader's language."""
        return {**self.as_dict(), "kind_name": kind_name(self.source, self.kind)}


def kind_name(source: str, kind: str) -> Message:
    """The kind of a candidate as a catalogue message (``place:city`` → 城市)."""
    if source == "area":
        return message(f"geocode.kind.area_{kind}")
    token = kind.replace(":", "_").replace("-", "_").lower()
    return message(f"geocode.kind.{token}" if token in KNOWN_KINDS else "geocode.kind.place")


# kinds with their own catalogue text (others read as 地点 / place)
KNOWN_KINDS = frozenset(
    {
        "address",
        "building",
        "poi",
        "street",
        "facility",
        "station",
        "station_address",
        "place",
        "place_city",
        "place_town",
        "place_suburb",
        "place_quarter",
        "place_neighbourhood",
        "place_village",
        "place_hamlet",
        "place_locality",
        "place_square",
        "place_isolated_dwelling",
        "place_city_block",
        "place_plot",
    }
)
AREA_KINDS = ("grid", "community", "street", "district")


@dataclass(frozen=True)
class Match:
    """The candidate an address-only intake used, and why it was safe to use it."""

    query: str
    candidate: Candidate
    runner_up: Candidate | None

    def as_dict(self) -> GeocodeMatch:
        return {
            "query": self.query,
            **self.candidate.as_dict(),
            "runner_up": self.runner_up.as_dict() if self.runner_up else None,
        }


def check_query(query: str) -> str:
    text = (query or "").strip()
    if not text:
        raise InvalidInput("geocode.empty_query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput("geocode.query_too_long", max_chars=MAX_QUERY_CHARS)
    return text


def lookup_for(parts: AddressParts) -> gazetteer.Lookup:
    """What to look up in the index for a parsed query."""
    keys = [k for k in (parts.rest, parts.local, parts.key, parts.place, parts.road) if k]
    if not parts.rest:  # only divisions: the finest one named is the place asked for
        keys += [k for k in (parts.community, parts.subdistrict, *reversed(parts.admin)) if k]
    roads = [parts.road] if parts.road else []
    road_pinyins = [p for p in (pinyin_keys(parts.road)[0] if parts.road else None,) if p]
    if parts.latin and parts.road:
        road_pinyins.append(parts.road)
    compounds = [parts.compound] if parts.compound else []
    if parts.place and not parts.compound and not parts.road:
        core = compound_core(parts.place)
        compounds.append(core)
    typo_of = parts.place or (parts.rest if not parts.road and not parts.compound else "")
    typo_forms = variants(typo_of) + (
        variants(parts.local) if parts.local != typo_of and not parts.number else []
    )
    return gazetteer.Lookup(
        keys=list(dict.fromkeys(keys)),
        latin=parts.key if parts.latin and parts.key else None,
        roads=roads,
        road_pinyins=list(dict.fromkeys(road_pinyins)),
        number=parts.number,
        compounds=list(dict.fromkeys(compounds)),
        building=parts.building,
        variants=list(dict.fromkeys(typo_forms)),
        road_variants=variants(parts.road) if parts.number else [],
        compound_variants=variants(parts.compound) if parts.building else [],
        prefix=parts.key if 2 <= len(parts.key) <= 6 and not parts.number else None,
    )


def _admin_factor(parts: AddressParts, admin: str | None) -> float:
    """1.02 when every division the query names is the entry's, 0.8 when it names another one at a level the
    entry knows (another district), else 1."""
    named = [*parts.admin, *(p for p in (parts.subdistrict,) if p)]
    if not named or not admin:
        return 1.0
    known = admin.split("|")
    factor = 1.0
    for name in named:
        if name in known:
            factor = max(factor, 1.02)
            continue
        level = next((i for i, suffixes in enumerate(_ADMIN_LEVEL_SUFFIXES) if name.endswith(suffixes)), None)
        same_level = [k for k in known if level is not None and k.endswith(_ADMIN_LEVEL_SUFFIXES[level])]
        if same_level:
            return 0.8
    return factor


# characters that tell two real places apart rather than mark a typo: 中山路 / 中山北路 / 中山一路, 幸福一村 / 二村
# … and the words that say what kind of place it is: 华南南站 is not a typo of 华南南府
_MARKERS = frozenset(
    "东南西北中上下前后内外左右一二三四五六七八九十百新老旧大小正副路街巷道弄里段横直"
    "站府苑园城院校区馆店场庭湾村厦寓局所厅宫塔桥亭阁轩居"
)


def differs_by_marker(asked: str, found: str, at_most: int | None = None) -> bool:
    """Whether what differs between the query's ``asked`` and a name ``found`` names another place: a digit
    anywhere; near the end (the last three characters, where 北 of 中山北路, 二 of 幸福二村, 站 of 华南南站 sit) a
    direction, ordinal or kind of place that the query says differently, adds or leaves out. A marker the
    query replaced by an ordinary character (面 for 横 of 赤岗横路站) is a typo of it, not another place. Only
    typo-sized differences count when ``at_most`` is given. Inside a name such characters are often just part
    of it (新港, 广园)."""
    significant, changed = False, 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, asked, found, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        changed += (i2 - i1) + (j2 - j1)
        ours = [(asked[i], i >= len(asked) - 3) for i in range(i1, i2)]
        theirs = [(found[j], j >= len(found) - 3) for j in range(j1, j2)]
        considered = ours if tag == "replace" else ours + theirs
        if any(ch.isdigit() for ch, _ in ours + theirs) or any(
            near and ch in _MARKERS for ch, near in considered
        ):
            significant = True
    return significant and (at_most is None or changed <= at_most)


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one character changed, left out, added or swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def score_row(parts: AddressParts, row: NameRow, road_exists: bool = False) -> float:
    """How well one index row answers the parsed query, 0..1. ``road_exists``: the query's road is a road
    of the gazetteer (then a road that sounds alike or is a typo away is another road, not what was meant)."""
    key = row["name_key"] or ""
    via = row["via"]
    score = max(
        key_score(parts.rest or parts.key, key, float(row.get("trigram") or 0.0)),
        key_score(parts.local or parts.key, key),
        key_score(parts.key, key),
    )
    if via == "key" and key in (parts.community, parts.subdistrict, *parts.admin) and not parts.rest:
        score = 1.0  # the division the query names (and nothing else)
    elif parts.place and key == parts.place and parts.place != parts.rest:
        score = max(score, 0.95)  # 龙口中学 for 龙口中学旁边: the place named, with where at it
    if via in ("road_pinyin", "road_typo") and road_exists:
        return min(score, CONFLICT_CAP)  # 西村南巷 exists: 溪村南巷171号 is not its house 171
    if via in ("road_typo", "compound_typo", "typo"):
        if via == "typo":  # which of the query's forms is one typo from the name (or the compound's name)
            pairs: list[tuple[str | None, Any]] = [
                (a, t)
                for a in (parts.place, parts.rest, parts.local)
                if a and len(a) >= 3
                for t in (key, row["compound"])
                if t and one_edit(a, t)
            ]
        else:
            pairs = [(parts.road, row["road"])] if via == "road_typo" else [(parts.compound, row["compound"])]
        if not pairs:
            via = "text"  # the variants met, but the whole names are more than one typo apart
        elif any(differs_by_marker(a or "", t or "") for a, t in pairs):
            return min(score, CONFLICT_CAP)  # 中山北路 is not a typo of 中山路, nor 华南南府 of 华南南站
    if via in ("trigram", "prefix", "text") and any(
        differs_by_marker(a, key, at_most=2) for a in (parts.place, parts.rest) if a
    ):
        score = min(score, CONFLICT_CAP)  # 领峰金府 for 领峰金区: alike in text, another kind of place
    if via == "initials":
        score = max(score, 0.75 if len(parts.key) >= 4 else 0.6 if len(parts.key) == 3 else 0.4)
    elif via == "typo":
        score = max(score, 0.8 if len(key) >= 4 else 0.7)
    elif via in _VIA_FLOOR:
        score = max(score, _VIA_FLOOR[via])
    if parts.number and row["house_number"] and row["house_number"] != parts.number:
        score = min(score, CONFLICT_CAP)
    if parts.building and row["building"] and row["building"] != parts.building:
        score = min(score, CONFLICT_CAP)
    if (
        parts.number
        and parts.road
        and row["road"]
        and row["road"] != parts.road
        and via not in ("road_pinyin", "road_typo")
    ):
        score = min(score, CONFLICT_CAP)  # 中山北路12号 for 中山路12号: a look-alike road
    if (
        parts.compound
        and parts.building
        and row["compound"]
        and row["compound"] != parts.compound
        and via != "compound_typo"
    ):
        score = min(score, CONFLICT_CAP)
    if parts.number and row["precision"] in ("street", "area", "city"):
        score = min(score, 0.85)
    score *= _admin_factor(parts, row["admin"])
    return round(min(score, 1.0), 4)


def _candidates(parts: AddressParts, rows: list[NameRow]) -> dict[tuple[str, float, float], Candidate]:
    best: dict[tuple[str, float, float], Candidate] = {}
    road_exists = bool(parts.road) and any(
        row["road"] == parts.road and row["via"] in ("key", "road", "road_other") for row in rows
    )
    for row in rows:
        score = score_row(parts, row, road_exists)
        if score <= 0.05:
            continue
        candidate = Candidate(
            name=row["name"],
            kind=row["kind"],
            lon=float(row["lon"]),
            lat=float(row["lat"]),
            score=score,
            source=row["source"],
            precision=row["precision"] or "poi",
            category=row["category"],
            source_id=row["source_id"],
            key=row["name_key"] or "",
        )
        # the same name drawn twice at one spot (a building and its entrance node, a POI and a facility)
        place = (candidate.key, round(candidate.lon, 4), round(candidate.lat, 4))
        if place not in best or _order(candidate) < _order(best[place]):
            best[place] = candidate
    return best


def _order(c: Candidate) -> tuple[Any, ...]:
    return (-c.score, _PRECISION_RANK.get(c.precision, 9), len(c.name), c.name)


def _with_grids(db: Database, candidates: list[Candidate]) -> list[Candidate]:
    if not candidates:
        return candidates
    index = current_index(db)
    lon = np.array([c.lon for c in candidates])
    lat = np.array([c.lat for c in candidates])
    positions = index.assign("grid", lon, lat)
    infos = index.grids.infos
    return [
        replace(c, grid_code=infos[int(p)].code if int(p) != OUTSIDE else None)
        for c, p in zip(candidates, positions, strict=True)
    ]


def geocode(db: Database, query: str, limit: int = 10) -> list[Candidate]:
    """Candidates for ``query``, best first (at most ``limit``; one per name and place)."""
    text = check_query(query)
    parts = parse(text)
    if not parts.key:
        return []
    lookup = lookup_for(parts)
    with db.cursor() as cur:
        rows = gazetteer.exact_candidates(cur, lookup, PER_BRANCH)
    if any(row["via"] == "pending" for row in rows):  # names written since the last search: key them first
        ensure_keyed(db.primary)  # a standby cannot: its copy has them once replayed (the next search)
        with db.cursor() as cur:
            rows = gazetteer.exact_candidates(cur, lookup, PER_BRANCH)
    found = _candidates(parts, [row for row in rows if row["via"] != "pending"])
    if not found:  # nothing by index: what pg_trgm finds is all there is (its cost is paid only here)
        with db.cursor() as cur:
            trigram = gazetteer.trigram_candidates(cur, parts.rest or parts.key, TRIGRAM_LIMIT)
        for place, candidate in _candidates(parts, trigram).items():
            if place not in found or _order(candidate) < _order(found[place]):
                found[place] = candidate
    ranked = sorted(found.values(), key=_order)[:limit]
    return _with_grids(db, ranked)


def distance_m(a: Candidate, b: Candidate) -> float:
    """Great-circle distance between two candidates, metres (haversine; ample for 'same place?')."""
    return haversine_m(a.lon, a.lat, b.lon, b.lat)


def decide(
    query: str,
    candidates: list[Candidate],
    min_score: float,
    margin: float,
    same_place_m: float,
    shown: int = 5,
) -> Match:
    """The one candidate an address-only incident can be placed at, from ranked ``candidates``.

    The best candidate is used when it is a house number, building or POI, scores at least ``min_score``,
    and no candidate elsewhere (farther than ``same_place_m``) comes within ``margin`` of it; an exact match
    (score 1) is only challenged by another exact match elsewhere. A street, area or city never places an
    incident by itself.

    Raises
    ------
    Conflict
        ``geocode.no_match``, ``geocode.too_coarse``, ``geocode.not_confident`` or ``geocode.ambiguous``;
        ``extra["candidates"]`` lists them (each with precision and grid) for the dispatcher to pick one.
    """
    listed = [c.public() for c in candidates[:shown]]
    if not candidates:
        raise Conflict("geocode.no_match", query=query, extra={"candidates": []})
    best = candidates[0]
    if best.precision not in FINE:
        raise Conflict(
            "geocode.too_coarse",
            query=query,
            best=best.name,
            precision=message(f"geocode.precision.{best.precision}"),
            extra={"candidates": listed},
        )
    if best.score < min_score:
        raise Conflict(
            "geocode.not_confident",
            query=query,
            best=best.name,
            score=f"{best.score:.2f}",
            min_score=min_score,
            extra={"candidates": listed},
        )
    elsewhere = [c for c in candidates[1:] if distance_m(best, c) > same_place_m]
    rivals = [
        c for c in elsewhere if (c.score >= 1.0 if best.score >= 1.0 else c.score >= best.score - margin)
    ]
    if rivals:
        raise Conflict(
            "geocode.ambiguous",
            query=query,
            best=best.name,
            rival=rivals[0].name,
            distance_m=f"{distance_m(best, rivals[0]):.0f}",
            extra={"candidates": listed},
        )
    return Match(query=query, candidate=best, runner_up=elsewhere[0] if elsewhere else None)


def best_match(
    db: Database, query: str, min_score: float, margin: float, same_place_m: float, limit: int = 5
) -> Match:
    """:func:`decide` over :func:`geocode`'s candidates for ``query``."""
    return decide(query, geocode(db, query, limit=max(limit, 10)), min_score, margin, same_place_m, limit)
