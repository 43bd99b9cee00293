"""What the geocoder stores for each searchable name (the ``geocode_names`` table, migration 0915).

One row per name of a gazetteer entry, facility, rest station (name and address) or current area, with the
forms matching needs: the index key (folded, simplified, no punctuation), its full pinyin and initials, the
parsed road and house number, compound and building, the administrative names it lies in, and its
``precision`` — how exactly the name pins a place:

==============  =====================================================================================
precision       from
==============  =====================================================================================
house_number    an address (OSM ``addr:*``, a gazetteer address, a station's address)
building        a building named by its number (``幸福里小区3栋``), an isolated dwelling
poi             a named place: POIs, named buildings (``赫爾辛基中央車站``), facilities, rest stations, compounds
street          a street (one entry per street name)
area            places such as suburbs and neighbourhoods, and the service's grids, communities, streets, districts
city            ``place=city`` / ``town``
==============  =====================================================================================

Only the first three can place an incident by themselves (:data:`FINE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo_service.geocode.parse import AddressParts, compound_core, parse
from geo_service.geocode.text import fold, key_of, name_key, pinyin_keys

PRECISIONS = ("house_number", "building", "poi", "street", "area", "city")
FINE = frozenset({"house_number", "building", "poi"})
_CITY_PLACES = frozenset(
    {
        "place:city",
        "place:town",
        "place:municipality",
        "place:county",
        "place:state",
        "place:province",
        "place:region",
    }
)
_BUILDING_PLACES = frozenset({"place:isolated_dwelling", "place:farm", "place:plot"})
_AREA_SOURCES = frozenset({"area"})
# OSM address tags that say which administrative division an entry is in, coarse to fine
ADMIN_TAGS = (
    "addr:province",
    "addr:state",
    "addr:city",
    "addr:district",
    "addr:county",
    "addr:subdistrict",
    "addr:suburb",
    "addr:town",
    "addr:village",
    "addr:neighbourhood",
)


@dataclass(frozen=True)
class NameKeys:
    """The stored forms of one name (every text an index key; None where it does not apply)."""

    precision: str
    name_key: str
    pinyin: str | None
    initials: str | None
    road: str | None
    road_pinyin: str | None
    house_number: str | None
    compound: str | None
    building: str | None
    admin: str | None
    variants: list[str] | None

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.precision,
            self.name_key,
            self.pinyin,
            self.initials,
            self.road,
            self.road_pinyin,
            self.house_number,
            self.compound,
            self.building,
            self.admin,
            self.variants,
        )


COLUMNS = (
    "precision",
    "name_key",
    "pinyin",
    "initials",
    "road",
    "road_pinyin",
    "house_number",
    "compound",
    "building",
    "admin",
    "variants",
)
MIN_VARIANT_CHARS = 3  # one character fewer than 3 is too little to tell names apart
MAX_VARIANT_CHARS = 24


def variants(key: str | None) -> list[str]:
    """``key`` and each form of it with one character left out: two keys one typo apart share one of these
    (a wrong, missing, extra or swapped character)."""
    if not key:
        return []
    out = [key]
    if MIN_VARIANT_CHARS <= len(key) <= MAX_VARIANT_CHARS:
        out += [key[:i] + key[i + 1 :] for i in range(len(key))]
    return list(dict.fromkeys(out))


def precision_of(source: str, kind: str, parts: AddressParts) -> str:
    """How exactly an entry of ``kind`` from ``source`` pins a place (see the module table)."""
    if source in _AREA_SOURCES:
        return "area"
    if source == "station_address" or kind in ("address", "station_address"):
        return "house_number" if parts.number or parts.building else "street"
    if kind == "street":
        return "street"
    if kind in _CITY_PLACES:
        return "city"
    if kind in _BUILDING_PLACES:
        return "building"
    if kind.startswith("place:"):
        return "area"
    if kind == "building":
        # a building called by its number is a building; a named one (a station, a church) is a place
        return "building" if parts.building and not parts.place else "poi"
    return "poi"


def admin_text(properties: dict[str, Any] | None) -> str | None:
    """The administrative names an entry's ``addr:*`` tags give, coarse to fine, ``|``-joined keys."""
    if not properties:
        return None
    names = [name_key(str(properties[tag])) for tag in ADMIN_TAGS if properties.get(tag)]
    names = [n for n in dict.fromkeys(names) if n]
    return "|".join(names) or None


def keys_for(source: str, kind: str, name: str, properties: dict[str, Any] | None = None) -> NameKeys:
    """The stored forms of one name. ``properties`` may carry OSM ``addr:street``/``addr:housenumber`` (an
    address's road and number, taken over what its text says) and ``addr:*`` administrative names."""
    properties = properties or {}
    parts = parse(name)
    key = parts.key
    road, number = parts.road, parts.number
    if properties.get("addr:street") and properties.get("addr:housenumber") and kind == "address":
        road = name_key(str(properties["addr:street"])) or road
        number = name_key(str(properties["addr:housenumber"])).removesuffix("号") or number
    if kind == "street" and not road:
        road = key
    compound, building = parts.compound, parts.building
    if (
        not compound
        and not building
        and parts.place
        and kind in ("poi", "building", "place:neighbourhood", "place:residential", "facility")
    ):
        core = compound_core(parts.place)
        compound = core if core != parts.place else None  # a 小区 is searchable without the word 小区
    # pinyin of the name as written: callers say 三栋 "san dong" where the key has 3栋
    pinyin, initials = pinyin_keys(key_of(fold(name, numerals=False)))
    road_pinyin = pinyin_keys(road)[0] if road else None
    precision = precision_of(source, kind, parts)
    typo_forms = None
    if precision in ("poi", "street", "area", "city") or (compound and not building):
        typo_forms = list(dict.fromkeys(variants(key) + variants(compound))) or None
    return NameKeys(
        precision=precision,
        name_key=key,
        pinyin=pinyin,
        initials=initials,
        road=road,
        road_pinyin=road_pinyin,
        house_number=number,
        compound=compound,
        building=building,
        admin=admin_text(properties),
        variants=typo_forms,
    )
