"""The structure of a Chinese address: 省/市/区县 · 街道(镇) · 社区(村) · 路街巷 · 号 · 小区 · 楼栋 · 单元 · 室.

``广东省广州市天河区石牌街道华师社区天河路385号幸福里小区3栋2单元1201室`` →
admin (广东省, 广州市, 天河区), subdistrict 石牌街道, community 华师社区, road 天河路, number 385,
compound 幸福里 (小区 is what callers leave out, so it is not part of the compound's key), building 3, unit 2,
room 1201, and whatever is left (a place name such as 赫尔辛基中央车站, without 门口/对面/附近).

The province/city/district prefix is recognised by cpca (the national list of administrative divisions,
Aho-Corasick over full names and names without 省/市): a name counts only where the text says it in full
(``中山市``) or where another division follows it (``广州天河区``), so ``中山路12号`` keeps its road. The rest
are rules over the folded text (:func:`geo_service.geocode.text.fold`: simplified, half-width, numerals as
digits). Latin-script addresses (``Mannerheimintie 5``, pinyin ``tianhelu 385 hao``) split into street and
number. The same parser reads gazetteer names at import, so both sides are cut the same way.
"""

from __future__ import annotations

import importlib.resources
import re
import sys
import types
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any

from geo_service.geocode.text import fold, has_cjk, key_of

_ADMIN_SUFFIX = ("省", "市", "区", "县", "旗", "州", "盟", "自治区", "特别行政区")
_SUBDISTRICT = re.compile(
    r"^(?P<name>[\u4e00-\u9fff]{2,10}?(?:街道办事处|街道|镇|乡))(?!路|街|巷|大道|号|道)"
)
# a village (…村) only where a number, a 组 or a road follows: 朱村职业技术学校 is a school, 幸福新村 a compound
_COMMUNITY = re.compile(
    r"^(?P<name>[\u4e00-\u9fff]{2,10}?(?:社区居委会|社区|居委会|村委会"
    r"|(?<!新)村(?=\d|[\u4e00-\u9fff]{1,6}?(?:组|路|街|巷|大道))))(?!路|街|巷|号)"
)
# a road name, then optionally its house number; 里/道/段 end a road only when a number follows
_ROAD_NUMBER = re.compile(
    r"^(?P<road>[\u4e00-\u9fff\w]{0,14}?[\u4e00-\u9fff](?:大道|大街|路|街|巷|胡同|弄|(?=[里道段]\d)[里道段])(?:[东西南北中](?=\d))?)"
    r"(?:(?P<number>\d+(?:-\d+)?)(?:号院|号|(?=$|[\u4e00-\u9fff]))(?!楼|栋|幢|座))?"
)
# what is left when a division's name was really the start of a road's (员村 + 大街, 朱村 + 四路)
_BARE_ROAD = re.compile(r"^[东西南北中一二三四五六七八九十]?(?:大道|大街|路|街|巷|横路|直街)")
_BUILDING = re.compile(r"(?P<building>\d+|[a-z])(?:号楼|栋|幢|座|号馆)")
_UNIT = re.compile(r"(?P<unit>\d+)单元")
_ROOM = re.compile(r"(?P<room>\d+)(?:室|房|户|号房)?$")
_FLOOR = re.compile(r"(?P<floor>\d+)(?:层|楼)")
# what callers say around a place: "in front of", "opposite", "near" (the place is still the answer)
_LOCATIVE = re.compile(
    r"(?:门口|门前|对面|附近|旁边|旁|周边|东侧|西侧|南侧|北侧|东门|西门|南门|北门|正门|后门|里面|内|处)$"
)
_COMPOUND_GENERIC = ("住宅小区", "小区", "宿舍区", "宿舍")
_LATIN_NUMBER = re.compile(r"^(?P<street>.*?[^\W\d_])\s*(?P<number>\d+(?:-\d+)?[a-z]?)(?:\s*hao)?$")


@dataclass(frozen=True)
class AddressParts:
    """An address cut into its parts; every text is an index key (folded, no punctuation)."""

    key: str
    admin: tuple[str, ...] = ()
    local: str = ""  # the key after the province/city/district prefix
    subdistrict: str | None = None
    community: str | None = None
    road: str | None = None
    number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    rest: str = ""
    place: str = ""
    latin: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def has_detail(self) -> bool:
        """Names something finer than an area: a road, a number, a compound, a building or a place."""
        return bool(self.road or self.number or self.compound or self.building or self.place)


def compound_core(name: str) -> str:
    """A compound's key without the generic word callers leave out: ``幸福里小区`` → ``幸福里``."""
    for suffix in _COMPOUND_GENERIC:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


_ADMIN_BY_SUFFIX = re.compile(
    r"^(?P<province>[\u4e00-\u9fff]{2,7}?(?:省|自治区|特别行政区))?(?P<city>[\u4e00-\u9fff]{2,7}?(?:市|自治州|地区|盟))?"
    r"(?P<county>[\u4e00-\u9fff]{1,7}?(?:区|县|旗))?(?=[\u4e00-\u9fff\d])"
)


def _admin_prefix_by_suffix(key: str) -> tuple[tuple[str, ...], int]:
    """Without cpca: divisions the text names in full (广东省广州市天河区), by their suffixes only."""
    found = _ADMIN_BY_SUFFIX.match(key)
    if not found or not found.group(0):
        return (), 0
    return tuple(v for v in found.group("province", "city", "county") if v), found.end()


def _resource_stream(package: str, name: str) -> IO[bytes]:
    """``pkg_resources.resource_stream``, which is all cpca uses of it."""
    return importlib.resources.files(package).joinpath(name).open("rb")


@lru_cache(maxsize=1)
def _cpca() -> Any:
    """cpca, imported on the first Chinese key (it loads the national list of divisions, ~0.5 s, which a
    process that never reads a Chinese address, e.g. an import of a European extract, need not pay); None
    when it cannot be imported. Its data file is read through a stand-in for pkg_resources (importlib), so
    neither the scan of every installed distribution nor setuptools is needed."""
    shim = None
    if "pkg_resources" not in sys.modules:
        # cpca reads its list through pkg_resources.resource_stream only; importing pkg_resources scans every
        # installed distribution (~0.1-0.3 CPU s, more than cpca itself): the same file through importlib
        shim = types.ModuleType("pkg_resources")
        setattr(shim, "resource_stream", _resource_stream)  # noqa: B010  # a module made here: no attribute to type
        sys.modules["pkg_resources"] = shim
    try:
        import cpca
    except ImportError:  # pragma: no cover - exercised through _admin_prefix_by_suffix in the tests
        return None
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
    return cpca


def load_dictionaries() -> None:
    """Load the Chinese dictionaries (traditional → simplified, pinyin, divisions) now rather than on the first
    Chinese query: the server's background warm-up calls it once it is ready."""
    from geo_service.geocode.text import pinyin_keys

    fold("中山路")
    pinyin_keys("中山路")
    _cpca()


def _admin_prefix(key: str) -> tuple[tuple[str, ...], int]:
    """The administrative divisions the key starts with (full names) and where the rest begins."""
    if not has_cjk(key):  # every division's name is Chinese: nothing to match
        return (), 0
    cpca = _cpca()
    if cpca is None:
        return _admin_prefix_by_suffix(key)
    accepted: list[tuple[str, int, int]] = []  # full name, start, end (exclusive)
    parent = None
    position = 0
    pending: list[tuple[object, int, int]] = []
    for match in cpca.matcher.iter(key):
        if match.start_index != position:
            break
        info = match.get_match_addr(parent)
        if info is None:
            break
        end = match.end_index + 1
        said = match.origin_value
        if said.endswith(_ADMIN_SUFFIX) or said == info.name:
            accepted.extend((i.name, s, e) for i, s, e in pending)  # type: ignore[attr-defined]
            pending.clear()
            accepted.append((info.name, match.start_index, end))
        else:
            pending.append((info, match.start_index, end))  # 广州 counts once 天河区 follows it
        parent, position = info, end
    if not accepted:
        return (), 0
    names = tuple(dict.fromkeys(name for name, _, _ in accepted))
    return names, accepted[-1][2]


def _strip_locative(text: str) -> str:
    stripped = _LOCATIVE.sub("", text)
    return stripped if len(stripped) >= 2 else text


def parse(text: str) -> AddressParts:
    """Cut a raw address or place name into its parts."""
    key = key_of(fold(text))
    if not has_cjk(key):
        return _parse_latin(key, fold(text))
    admin, start = _admin_prefix(key)
    rest = key[start:]
    subdistrict = community = None
    found = _SUBDISTRICT.match(rest)
    if found and not _BARE_ROAD.match(rest[found.end() :]):
        subdistrict = found.group("name")
        rest = rest[found.end() :]
    found = _COMMUNITY.match(rest)
    if found and found.end() < len(rest) and not _BARE_ROAD.match(rest[found.end() :]):
        community = found.group("name")
        rest = rest[found.end() :]
    remainder = rest
    road = number = None
    found = _ROAD_NUMBER.match(remainder)
    if found and (found.group("number") or not found.group("road").endswith(("里", "道", "段"))):
        road, number = found.group("road"), found.group("number")
        remainder = remainder[found.end() :]
    named_after_road = bool(road and not number and remainder)  # 天河街站: a station named after its road
    compound = building = unit = room = None
    found = _BUILDING.search(remainder)
    if found:
        building = found.group("building")
        before = remainder[: found.start()]
        if before:
            compound = compound_core(before)
        remainder = remainder[found.end() :]
        unit_match = _UNIT.search(remainder)
        if unit_match:
            unit = unit_match.group("unit")
            remainder = remainder[: unit_match.start()] + remainder[unit_match.end() :]
        remainder = _FLOOR.sub("", remainder)
        room_match = _ROOM.search(remainder)
        if room_match:
            room = room_match.group("room")
            remainder = remainder[: room_match.start()]
        place = ""
    else:
        place = _strip_locative(rest if named_after_road else remainder) if remainder else ""
        if (
            place
            and (road or number)
            and re.search(r"(小区|花园|家园|新村|公寓|大厦|苑|园|城|府|庭|湾|里|居)$", place)
        ):
            compound = compound_core(place)
    return AddressParts(
        key=key,
        admin=admin,
        local=key[start:],
        subdistrict=subdistrict,
        community=community,
        road=road,
        number=number,
        compound=compound,
        building=building,
        unit=unit,
        room=room,
        rest=rest,
        place=place,
    )


def _parse_latin(key: str, folded: str) -> AddressParts:
    """``mannerheimintie 5`` → street mannerheimintie, number 5; ``tianhelu385hao`` the same way."""
    found = _LATIN_NUMBER.match(folded) or _LATIN_NUMBER.match(key)
    if found:
        street = key_of(found.group("street"))
        return AddressParts(
            key=key, road=street or None, number=found.group("number"), rest=key, place="", latin=True
        )
    return AddressParts(key=key, rest=key, place=key, latin=True)
