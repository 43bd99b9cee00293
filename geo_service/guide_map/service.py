"""The guide map of an area: load from the store, walk from its service centre, project, render.

Storage is WGS-84; the map is drawn in the area's metric CRS (:func:`geo_service.crs.metric_epsg`: UTM,
or CGCS2000 Gauss–Krüger inside China), so lengths on the page are true to scale.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from pyproj import CRS, Proj, Transformer
from shapely.geometry.base import BaseGeometry

from geo_service import __version__, i18n
from geo_service.clock import Clock, system_clock
from geo_service.crs import metric_epsg
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.errors import InvalidInput, NotFound
from geo_service.guide_map import layout
from geo_service.guide_map.layout import Basemap, Facility, GuideMap, OriginKind
from geo_service.guide_map.text import Lang
from geo_service.osm.rules import FacilityRules
from geo_service.settings import APISettings, ImportSettings, WalkingSettings
from geo_service.store import areas
from geo_service.store import guide_map as store
from geo_service.store.guide_map import CentreRow, MapFacilityRow
from geo_service.walking import isochrones, speed_mps, travel_matrix

DEFAULT_MINUTES = 15.0
DETAIL_MAX_M_PER_MM = 25.0  # coarser than 1:25,000: no buildings or footpaths (they would be a grey smear)
FOOTPATHS = ("footway", "path", "steps", "cycleway", "track", "bridleway", "trail", "corridor")


@dataclass(frozen=True)
class Origin:
    lonlat: tuple[float, float]
    kind: OriginKind
    name: str | None = None


@dataclass(frozen=True)
class GuideMapContext:
    """What a guide map needs besides the database, built once at start-up (``create_app``) and passed down:
    the walking engine's settings, the facility categories' labels, the local time zone (the map's date) and
    the clock."""

    walking: WalkingSettings
    facility_rules: FacilityRules
    timezone: str
    clock: Clock = system_clock

    @classmethod
    def create(
        cls,
        walking: WalkingSettings | None = None,
        facility_rules: FacilityRules | None = None,
        timezone: str | None = None,
        clock: Clock | None = None,
    ) -> GuideMapContext:
        """The context from what start-up already built, reading the environment for the parts not given."""
        return cls(
            walking or WalkingSettings(),
            facility_rules or FacilityRules.load(ImportSettings().facility_rules),
            timezone or APISettings().timezone,
            clock or system_clock,
        )


def draw_sheet(db: Database, ctx: GuideMapContext, key: SheetKey) -> bytes:
    """The printable guide map of :func:`sheet_key`'s area as PNG or PDF bytes; NotFound for an unknown code.

    The last :data:`SHEETS_KEPT` sheets are kept per database by key (their parameters, the date printed on
    them and the revisions of the data they show, :data:`SHEET_ENTITIES`): a community's workers print the
    same sheet on the same day, and drawing one costs 0.3–1 CPU s. Any write to that data, by any process,
    moves a revision and the next key names another sheet."""
    from geo_service.guide_map import render  # matplotlib: imported by the first map drawn, not at start

    def draw() -> bytes:
        sheet = load_guide_map(db, ctx, key.code, key.lang, key.minutes, key.speed_kmh, key.printed_on)
        return render.render(sheet, key.fmt)

    return _SHEETS.get(db, key, draw)


@dataclass(frozen=True)
class SheetKey:
    """What a sheet depends on: its parameters, the date printed on it and the revisions of
    :data:`SHEET_ENTITIES` (in that order)."""

    code: str
    fmt: Literal["png", "pdf"]
    lang: Lang
    minutes: float
    speed_kmh: float | None
    printed_on: dt.date
    revisions: tuple[int, ...]


def sheet_key(
    db: Database,
    ctx: GuideMapContext,
    code: str,
    fmt: Literal["png", "pdf"],
    lang: Lang = "zh",
    minutes: float = DEFAULT_MINUTES,
    speed_kmh: float | None = None,
    today: dt.date | None = None,
) -> SheetKey:
    """The key of the guide map of area ``code`` (:func:`draw_sheet` draws it): ``speed_kmh`` None is the
    walking engine's default speed, the date printed is ``today`` or the context's clock in its time zone.
    Costs a revision check (most often none: :class:`~geo_service.db.revisions.RevisionWatch`); nothing is
    drawn."""
    when = today or ctx.clock().astimezone(ZoneInfo(ctx.timezone)).date()
    revisions = watch_of(db).revisions(SHEET_ENTITIES)
    return SheetKey(code, fmt, lang, minutes, speed_kmh, when, tuple(revisions[e] for e in SHEET_ENTITIES))


def sheet_etag(key: SheetKey) -> str:
    """A weak ETag for the sheet of ``key`` (:func:`sheet_key`) as this release draws it: sheets drawn from the
    same key are the same map (a PDF's creation time aside, hence weak). A phone that kept the sheet revalidates
    it for a 304 instead of 1–3 MB; a release that draws differently (:func:`drawing_release`) gives a new one."""
    digest = hashlib.sha256(repr((drawing_release(), key)).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


# What a sheet is drawn by besides its data: this package's code and the message catalogues of its texts.
DRAWN_BY = (Path(__file__).parent, Path(i18n.__file__).parent / "locale")


@functools.cache
def drawing_release() -> str:
    """A digest of the version and of every file under :data:`DRAWN_BY` (read once per process, ~2 ms): an
    upgrade that changes how sheets look changes it even when the version number stays."""
    digest = hashlib.sha256(__version__.encode())
    for folder in DRAWN_BY:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# The data a sheet shows: boundaries and names, facilities (and service centres among them), the walking
# network the circle follows and the networks registry, streets and buildings of the basemap.
SHEET_ENTITIES = ("areas", "facilities", "network", "networks", "basemap")
SHEETS_KEPT = 8  # PNG sheets are 1–3 MB


class _SheetCache:
    """The last ``kept`` sheets drawn for each database (its cache owner, as the other caches), by key."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._sheets: weakref.WeakKeyDictionary[Database, OrderedDict[SheetKey, bytes]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, db: Database, key: SheetKey, draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            sheets = self._sheets.setdefault(db.cache_owner, OrderedDict())
            body = sheets.get(key)
            if body is not None:
                sheets.move_to_end(key)
                return body
        body = draw()  # outside the lock: other sheets are drawn meanwhile (the same one twice at worst)
        with self._lock:
            sheets[key] = body
            while len(sheets) > self.kept:
                sheets.popitem(last=False)
        return body


_SHEETS = _SheetCache(SHEETS_KEPT)


def load_guide_map(
    db: Database,
    ctx: GuideMapContext,
    code: str,
    lang: Lang = "zh",
    minutes: float = DEFAULT_MINUTES,
    speed_kmh: float | None = None,
    today: dt.date | None = None,
) -> GuideMap:
    """Everything the page shows, in the area's metric CRS."""
    walking = ctx.walking
    speed_kmh = speed_mps(speed_kmh, walking) * 3.6  # InvalidInput (422) outside the engine's limits
    if not 0 < minutes <= walking.max_minutes:
        raise InvalidInput(
            "guide_map.minutes_range", max_minutes=f"{walking.max_minutes:g}", minutes=f"{minutes:g}"
        )
    with db.cursor() as cur:
        area = areas.current_area(cur, code)
    if area is None:
        raise NotFound("guide_map.unknown_area", code=code)
    boundary_ll = shapely.from_wkb(area["wkb"])
    with db.cursor(dict_rows=False) as cur:
        parents = store.ancestor_names(cur, code)
        origin = _origin(cur, code, boundary_ll, lang)
    circle_ll = walking_circle(db, origin.lonlat, minutes, speed_kmh, walking)

    centre = boundary_ll.centroid
    epsg = metric_epsg(centre.x, centre.y)
    to_metric = Transformer.from_crs(4326, epsg, always_xy=True)
    project = _projector(to_metric)
    boundary = project(boundary_ll)
    circle = project(circle_ll) if circle_ll is not None else None
    content = shapely.union_all([boundary, circle]) if circle is not None else boundary
    view = layout.view_extent(content.bounds)
    m_per_mm = (view[2] - view[0]) / layout.MAP_MM[2]
    box_ll = Transformer.from_crs(epsg, 4326, always_xy=True).transform_bounds(*view)
    basemap, facility_rows = _load_view(db, box_ll, epsg, m_per_mm)

    ox, oy = to_metric.transform(*origin.lonlat)
    facilities = _facilities(
        db, walking, facility_rows, origin, (ox, oy), boundary, circle, minutes, speed_kmh, lang
    )
    north_deg, scale = _north_and_scale(epsg, centre.x, centre.y)
    when = today or ctx.clock().astimezone(ZoneInfo(ctx.timezone)).date()
    return GuideMap(
        lang=lang,
        area_name=area["name"],
        area_level=area["level"],
        boundary=boundary,
        view=view,
        origin=(ox, oy),
        origin_kind=origin.kind,
        origin_name=origin.name,
        circle=circle,
        minutes=minutes,
        speed_kmh=speed_kmh,
        facilities=facilities,
        category_labels=ctx.facility_rules.labels(lang),
        basemap=basemap,
        crs_name=CRS.from_epsg(epsg).name,
        epsg=epsg,
        date=when.isoformat(),
        parents=parents,
        north_deg=north_deg,
        scale_factor=scale,
        demo=_is_demo(area),
        no_network=circle is None,
    )


def walking_circle(
    db: Database, origin: tuple[float, float], minutes: float, speed_kmh: float, walking: WalkingSettings
) -> BaseGeometry | None:
    """The ``minutes`` walking contour from ``origin`` (WGS-84), or None when no network is near it
    (minutes and speed are checked before, so the engine's InvalidInput can only mean that)."""
    try:
        contours = isochrones(
            db, origins=[origin], minutes=[minutes], speed_kmh=speed_kmh, crs="wgs84", settings=walking
        )
    except InvalidInput:  # the origin is too far from any walkable edge
        return None
    geometry = contours[0].geometry if contours else None
    return None if geometry is None or geometry.is_empty else geometry


def _origin(cur: Any, code: str, boundary: BaseGeometry, lang: Lang) -> Origin:
    centres = store.community_centres(cur, code)
    if centres:
        c = centres[0]
        return Origin((c["lon"], c["lat"]), "community_center", _name(c, lang))
    point = store.network_point(cur, code)
    if point is not None:
        return Origin(point, "network_point")
    inside = boundary.point_on_surface()
    return Origin((inside.x, inside.y), "area_point")


def _name(row: CentreRow, lang: Lang) -> str | None:
    """The facility's name in ``lang`` when OSM has one (name:zh / name:en), else its name."""
    return (row["name_zh"] if lang == "zh" else row["name_en"]) or row["name"] or None


def _projector(transformer: Transformer) -> Callable[[BaseGeometry], BaseGeometry]:
    def project(geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))

    return project


def _load_view(
    db: Database, box_ll: tuple[float, float, float, float], epsg: int, m_per_mm: float
) -> tuple[Basemap, list[MapFacilityRow]]:
    detail = m_per_mm <= DETAIL_MAX_M_PER_MM
    simplify_m = 0.08 * m_per_mm  # under a tenth of a millimetre on paper
    with db.cursor(dict_rows=False) as cur:
        rows = store.basemap(
            cur, box_ll, epsg, simplify_m, () if detail else ("building",), () if detail else FOOTPATHS
        )
        roads = [(cls, name, wkb) for kind, cls, name, wkb in rows if kind == "road"]
        if not roads:
            roads = store.walk_edges(cur, box_ll, epsg, simplify_m)
            if not detail:
                roads = [r for r in roads if r[0] not in FOOTPATHS]
        facility_rows = store.facilities(cur, box_ll, epsg)
    geoms = shapely.from_wkb([wkb for *_rest, wkb in rows])
    kinds = [kind for kind, *_rest in rows]
    road_geoms = shapely.from_wkb([wkb for *_rest, wkb in roads])
    basemap = Basemap(
        roads=[(cls, name, g) for (cls, name, _), g in zip(roads, road_geoms, strict=True)],
        buildings=[g for k, g in zip(kinds, geoms, strict=True) if k == "building"],
        water=[g for k, g in zip(kinds, geoms, strict=True) if k == "water"],
        green=[g for k, g in zip(kinds, geoms, strict=True) if k == "green"],
        rail=[(row[1], g) for row, g in zip(rows, geoms, strict=True) if row[0] == "rail"],
    )
    return basemap, facility_rows


def _facilities(
    db: Database,
    walking: WalkingSettings,
    rows: list[MapFacilityRow],
    origin: Origin,
    origin_xy: tuple[float, float],
    boundary: BaseGeometry,
    circle: BaseGeometry | None,
    minutes: float,
    speed_kmh: float,
    lang: Lang,
) -> list[Facility]:
    if not rows:
        return []
    xs = np.array([r["x"] for r in rows])
    ys = np.array([r["y"] for r in rows])
    in_area = shapely.contains_xy(boundary, xs, ys)
    walk = _walk_seconds(db, walking, origin, rows, minutes, speed_kmh) if circle is not None else {}
    straight = np.hypot(xs - origin_xy[0], ys - origin_xy[1])
    # Within the circle: inside the contour, or timed within the limit. The time alone misses a shop whose
    # nearest edge is an underground service tunnel (snapped there, reached the long way round); the contour
    # alone misses one inside a building, in a hole of the contour (block interiors are not walkable).
    limit_s = minutes * 60.0
    inside = shapely.contains_xy(circle, xs, ys) if circle is not None else np.zeros(len(rows), bool)
    return [
        Facility(
            category=r["category"],
            name=_name(r, lang),
            xy=(float(xs[i]), float(ys[i])),
            in_circle=bool(inside[i]) or walk.get(i, math.inf) <= limit_s,
            in_area=bool(in_area[i]),
            walk_seconds=walk.get(i),
            distance_m=float(straight[i]),
        )
        for i, r in enumerate(rows)
    ]


def _walk_seconds(
    db: Database,
    walking: WalkingSettings,
    origin: Origin,
    rows: list[MapFacilityRow],
    minutes: float,
    speed_kmh: float,
) -> dict[int, float]:
    """Walking seconds from the origin to each facility (row index → seconds), up to twice ``minutes``
    (so a category missing from the circle still names its nearest one with a time)."""
    targets = np.array([[r["lon"], r["lat"]] for r in rows])
    matrix = travel_matrix(
        db,
        np.array([origin.lonlat]),
        targets,
        max_seconds=2 * minutes * 60,
        speed_kmh=speed_kmh,
        settings=walking,
    )
    return {int(col): float(s) for col, s in zip(matrix.cols, matrix.seconds, strict=True)}


def _north_and_scale(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    """True north as degrees clockwise from the map's up, and the CRS's point scale factor, at (lon, lat)."""
    factors = Proj(CRS.from_epsg(epsg)).get_factors(lon, lat)
    to_metric = Transformer.from_crs(4326, epsg, always_xy=True)
    x0, y0 = to_metric.transform(lon, lat)
    x1, y1 = to_metric.transform(lon, lat + 0.01)
    north = math.degrees(math.atan2(x1 - x0, y1 - y0))
    return north, float(factors.meridional_scale)


def _is_demo(area: areas.AreaRow) -> bool:
    props = area.get("properties") or {}
    return bool(props.get("demo")) or area.get("source") == "demo"
