"""Areas and grids: checked, snapped, versioned writes; reads, history, dry-run validation and planning numbers.

Every write runs in one transaction: advisory locks on the codes it touches and their parents serialise
writers of the same neighbourhood, the current rows are re-read ``FOR UPDATE`` and their versions compared
with what the caller last saw (``If-Match``), the drafts are snapped and checked against the committed
neighbours, and only then are old versions closed and new ones opened. Any problem raises before anything
is written, so a write is all or nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NoReturn

import shapely
from pydantic import Field
from shapely.geometry.base import BaseGeometry
from typing_extensions import TypedDict  # pydantic documents these answers on Python 3.11

from geo_service.auth import Principal
from geo_service.crs import metric_epsg_for
from geo_service.db.pool import Database
from geo_service.db.rows import fetch_one
from geo_service.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from geo_service.feature_input import UncheckedJson
from geo_service.geojson import Feature, FeatureCollection, feature_collection
from geo_service.grids import checks, codes, fields
from geo_service.grids.geometry import count_positions, snap_to_edges, to_geojson, to_metric
from geo_service.grids.model import (
    CODE_RULE,
    LEVEL_RANK,
    LEVELS,
    AreaDraft,
    CodedDraft,
    Problem,
    code_allowed,
    draft_from_feature,
)
from geo_service.i18n import message
from geo_service.settings import GridSettings
from geo_service.store import areas as store
from geo_service.store import audit


class WrittenArea(TypedDict):
    """What a single-area write did (create, update, merge); ``feature`` is the stored version."""

    id: int
    code: str
    version: int
    change: str
    snapped_vertices: Annotated[int, Field(description="vertices moved onto a neighbour's edge")]
    feature: Feature


class ImportResult(TypedDict):
    created: list[str]
    updated: list[str]
    restored: list[str]
    unchanged: list[str]
    snapped_vertices: int
    count: Annotated[int, Field(description="areas written (created + updated + restored)")]


class ValidationResult(TypedDict):
    """A clean dry run (problems answer 422)."""

    valid: Literal[True]
    problems: Annotated[list[Any], Field(max_length=0)]


class _SentFeature(TypedDict):
    """A Feature whose envelope is read (``properties`` an object) and whose geometry is as the caller sent it
    (:func:`draft_from_feature` checks it, with its own codes)."""

    type: Literal["Feature"]
    properties: dict[str, Any]  # the area's members and the planner's extras: open by design
    geometry: UncheckedJson


class _MergedCounts(TypedDict):
    """What merged areas add up to: households and population when every one has them, all their workers."""

    households: int | None
    population: int | None
    workers: list[dict[str, Any]]  # as the planners gave them: name, phone, ...


def clean() -> ValidationResult:
    return {"valid": True, "problems": []}


class AreaStats(TypedDict):
    """Planning numbers of one area."""

    code: str
    name: str | None
    level: str
    parent_code: str | None
    version: int
    area_km2: float
    households: int
    households_source: Literal["record", "residences"]
    residence_households: float
    population: int
    population_source: Literal["record", "estimated"]
    residences: int
    children: int
    staffing_norm_per_10k: float
    staffing_need: int
    workers: int
    staffing_gap: int


@dataclass
class WriteResult:
    """What a single-area write did."""

    id: int
    code: str
    version: int
    change: str
    snapped_vertices: int
    feature: Feature

    def as_dict(self) -> WrittenArea:
        return {
            "id": self.id,
            "code": self.code,
            "version": self.version,
            "change": self.change,
            "snapped_vertices": self.snapped_vertices,
            "feature": self.feature,
        }


@dataclass
class ImportReport:
    """What an import did, code by code."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    snapped_vertices: int = 0

    def as_dict(self) -> ImportResult:
        return {
            "created": self.created,
            "updated": self.updated,
            "restored": self.restored,
            "unchanged": self.unchanged,
            "snapped_vertices": self.snapped_vertices,
            "count": len(self.created) + len(self.updated) + len(self.restored),
        }


@dataclass
class _Planned:
    draft: CodedDraft
    current: store.AreaRow | None
    latest: store.AreaRow | None
    snapped: int = 0
    unchanged: bool = False


# -- features out -------------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def area_feature(row: store.AreaRow) -> Feature:
    """A stored area version as a GeoJSON Feature (full-precision coordinates)."""
    props = {
        "code": row["code"],
        "name": row["name"],
        "level": row["level"],
        "parent_code": row["parent_code"],
        "households": row["households"],
        "population": row["population"],
        "workers": row["workers"],
        "version": row["version"],
        "valid_from": _iso(row["valid_from"]),
        "valid_to": _iso(row["valid_to"]),
        "changed_by": row["changed_by"],
        "change": row["change"],
        "source": row["source"],
    }
    if row["valid_to"] is not None:
        props["closed_by"] = row["closed_by"]
        props["closed_change"] = row["closed_change"]
    for key, value in (row.get("properties") or {}).items():
        props.setdefault(key, value)
    return {
        "type": "Feature",
        "id": row["code"],
        "geometry": to_geojson(shapely.from_wkb(row["wkb"])),
        "properties": props,
    }


# -- reads --------------------------------------------------------------------------------------------------


def get_area(db: Database, code: str, version: int | None = None) -> Feature:
    """The current version of ``code`` (or version ``version``, current or not) as a Feature.

    Raises
    ------
    NotFound
        No such code (or version); a deleted code answers 404 with when it was deleted.
    """
    with db.cursor() as cur:
        if version is not None:
            row = store.version_of(cur, code, version)
            if row is None:
                raise NotFound("grid.no_version", code=code, version=version)
            return area_feature(row)
        row = store.current_area(cur, code)
        if row is None:
            latest = store.latest_versions(cur, [code]).get(code)
    if row is None:
        if latest is not None:
            raise NotFound("grid.deleted", code=code, at=_iso(latest["valid_to"]), version=latest["version"])
        raise NotFound("grid.not_found", code=code)
    return area_feature(row)


def _not_found(db: Database, code: str) -> NoReturn:
    """The 404 of a code without a current area: deleted (when, which version) or never known."""
    get_area(db, code)  # raises the right 404
    raise NotFound("grid.not_found", code=code)  # created since: the caller's read lost a race


def list_areas(
    db: Database,
    level: str | None = None,
    parent_code: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> FeatureCollection:
    """Current areas as a FeatureCollection, coarse levels first, then by code."""
    if level is not None and level not in LEVEL_RANK:
        raise InvalidInput("grid.invalid_property.level", level=level[:40], allowed=list(LEVELS))
    with db.cursor() as cur:
        rows = store.list_current(cur, level, parent_code, bbox)
    return feature_collection([area_feature(r) for r in rows])


def area_history(db: Database, code: str) -> FeatureCollection:
    """Every version of ``code``, oldest first, each with its validity interval and who changed/closed it."""
    with db.cursor() as cur:
        rows = store.history(cur, code)
    if not rows:
        raise NotFound("grid.not_found", code=code)
    return feature_collection([area_feature(r) for r in rows])


# -- the write pipeline -------------------------------------------------------------------------------------


def check_vertex_budget(features: Sequence[UncheckedJson], settings: GridSettings) -> None:
    """Refuse a request whose geometries hold more positions than ``max_vertices_per_request`` (counted on
    the GeoJSON lists, before any array, shape or index is built)."""
    total = 0
    for feature in features:
        if isinstance(feature, dict):
            total += count_positions(feature.get("geometry"))
    if total > settings.max_vertices_per_request:
        raise InvalidInput(
            "grid.too_many_vertices.request", count=total, limit=settings.max_vertices_per_request
        )


def _drafts(
    features: Sequence[UncheckedJson],
    problems: list[Problem],
    source: str,
    settings: GridSettings | None = None,
) -> list[AreaDraft]:
    settings = settings or GridSettings()
    check_vertex_budget(features, settings)
    drafts = []
    for index, feature in enumerate(features):
        draft = draft_from_feature(feature, index, problems, max_vertices=settings.max_vertices_per_geometry)
        if draft is not None:
            draft.source = source
            drafts.append(draft)
    return drafts


def _number(cur: Any, drafts: list[AreaDraft], auto_number: bool, problems: list[Problem]) -> None:
    """Give drafts without a code a GB/T code (auto_number) or report them."""
    missing = [d for d in drafts if d.code is None]
    if not missing:
        return
    if not auto_number:
        for d in missing:
            problems.append(Problem("missing_code", message("grid.missing_code"), [], None, d.feature))
        return
    groups: dict[tuple[str | None, str], list[AreaDraft]] = defaultdict(list)
    for d in missing:
        groups[(d.parent_code, d.level)].append(d)
    for (parent, level), group in groups.items():
        try:
            prefix = codes.child_prefix(parent, level)
            used = store.codes_ever_used(cur, prefix) | {d.code for d in drafts if d.code}
            assigned = codes.assign(parent, level, [d.geom for d in group], used)
        except codes.NumberingError as exc:
            for d in group:
                problems.append(Problem("cannot_number", exc.message, [], None, d.feature))
            continue
        for d, code in zip(group, assigned, strict=True):
            d.code = code
            if d.name is None:
                d.name = code


def _same_land(a: BaseGeometry, b: BaseGeometry) -> float:
    union = shapely.union(a, b).area
    return shapely.intersection(a, b).area / union if union > 0 else 1.0


def _same_geometry(geom: BaseGeometry, stored: BaseGeometry, tolerance_m: float) -> bool:
    """Whether every point of each boundary lies within ``tolerance_m`` of the other (Hausdorff distance of the
    two areas in the local metric CRS), so round-off through a projected CRS or a file is no change."""
    # normalised: a Shapefile round trip turns rings clockwise and may start them elsewhere
    if shapely.equals_exact(shapely.normalize(geom), shapely.normalize(stored), 0.0):
        return True
    if tolerance_m <= 0:
        return False
    a, b = to_metric([geom, stored], metric_epsg_for([stored]))
    return bool(b.buffer(tolerance_m).covers(a) and a.buffer(tolerance_m).covers(b))


def _same_content(draft: AreaDraft, row: store.AreaRow) -> bool:
    return (
        _same_geometry(draft.geom, shapely.from_wkb(row["wkb"]), 0.0)
        and (draft.name or draft.code) == row["name"]
        and draft.level == row["level"]
        and draft.parent_code == row["parent_code"]
        and draft.households == row["households"]
        and draft.population == row["population"]
        and draft.workers == row["workers"]
        and draft.properties == (row["properties"] or {})
    )


@dataclass(frozen=True)
class _Mode:
    """What a plan checks beyond the checks every write and dry run makes."""

    writing: bool  # lock the codes, re-read rows FOR UPDATE; stale versions raise 412, not a problem
    must_be_new: bool = False  # a current area with the code is a 409 (a deleted one may come back)
    must_exist: bool = False  # no current area with the code is a 404
    report_gaps: bool = False  # also report the gaps left inside each parent
    keep_stored_boundary: bool = False  # a boundary within snapping tolerance of the stored one keeps it


CREATE = _Mode(writing=True, must_be_new=True)
UPDATE = _Mode(writing=True, must_exist=True)
IMPORT = _Mode(
    writing=True, keep_stored_boundary=True
)  # new codes are created, existing ones get a new version
VALIDATE = _Mode(writing=False, report_gaps=True)  # a dry run: no locks, nothing raised for stale versions


def _coded(drafts: list[AreaDraft]) -> list[CodedDraft]:
    """The drafts that have a code by now (given, numbered or provisional); the others have a problem."""
    return [CodedDraft.of(d) for d in drafts if d.code is not None]


def _plan(
    cur: Any,
    drafts: list[CodedDraft],
    problems: list[Problem],
    settings: GridSettings,
    mode: _Mode,
    *,
    expected: dict[str, int] | None = None,
    gap_parents: Sequence[str] = (),
) -> list[_Planned]:
    """Check ``drafts`` against the database and each other; fill ``problems``; return the planned writes
    (snapped geometries, coarse levels first)."""
    _report_duplicates(drafts, problems)
    draft_codes = [d.code for d in drafts]
    if mode.writing:
        store.lock_codes(cur, [*draft_codes, *(d.parent_code for d in drafts if d.parent_code)])
    current = store.current_areas_by_code(cur, draft_codes, for_update=mode.writing)
    latest = store.latest_versions(cur, [c for c in draft_codes if c not in current])
    _check_codes(drafts, current, latest, problems, settings, mode, expected or {})
    hood = _Neighbourhood.read(cur, drafts, gap_parents)
    planned = []
    for d in sorted(drafts, key=lambda d: (LEVEL_RANK[d.level], d.feature)):
        item = _place(cur, d, hood, current.get(d.code), problems, settings, mode)
        if item is not None:
            item.latest = latest.get(d.code)
            planned.append(item)
    if mode.report_gaps:
        _report_gaps(cur, drafts, gap_parents, hood, problems, settings)
    return planned


def _report_duplicates(drafts: list[CodedDraft], problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for d in drafts:
        if d.code in seen:
            problems.append(
                Problem(
                    "duplicate_code",
                    message("grid.duplicate_code", code=d.code, first=seen[d.code], second=d.feature),
                    [d.code],
                    None,
                    d.feature,
                )
            )
        seen.setdefault(d.code, d.feature)


def _check_codes(
    drafts: list[CodedDraft],
    current: dict[str, store.AreaRow],
    latest: dict[str, store.AreaRow],
    problems: list[Problem],
    settings: GridSettings,
    mode: _Mode,
    expected: dict[str, int],
) -> None:
    """Codes against the stored areas: in use (409) or unknown (404) as ``mode`` wants, the code rule for a
    new code, the version the caller read, and a deleted code coming back only for the same land."""
    stale = []
    for d in drafts:
        row = current.get(d.code)
        want = expected.get(d.code, d.version)
        if mode.must_be_new and row is not None:
            raise Conflict("grid.exists", code=d.code, version=row["version"])
        if mode.must_exist and row is None:
            raise NotFound("grid.not_found", code=d.code)
        if row is None and d.code not in latest and not d.provisional and not code_allowed(d.code):
            # a new code: GB/T digits or a working code that URLs and HTTP headers carry as it is
            problems.append(
                Problem(
                    "bad_code",
                    message("grid.bad_code", code=d.code[:80], rule=CODE_RULE),
                    [d.code],
                    None,
                    d.feature,
                )
            )
        if row is not None and want is not None and want != row["version"]:
            stale.append(message("grid.stale_item", code=d.code, current=row["version"], asked=want))
        if row is None and d.code in latest:
            old = latest[d.code]
            iou = _same_land(d.geom, shapely.from_wkb(old["wkb"]))
            if iou < settings.same_land_iou:
                problems.append(
                    Problem(
                        "code_reused",
                        message(
                            "grid.code_reused",
                            code=d.code,
                            version=old["version"],
                            overlap=f"{iou:.0%}",
                            needed=f"{settings.same_land_iou:.0%}",
                        ),
                        [d.code],
                        to_geojson(shapely.from_wkb(old["wkb"])),
                        d.feature,
                    )
                )
    if stale and mode.writing:
        raise PreconditionFailed("grid.stale_versions", items=stale)
    for item in stale:  # a dry run reports what the write would refuse
        problems.append(
            Problem(
                "stale_version",
                message("grid.stale_version", **item.params),
                [item.params["code"]],
                None,
                next(d.feature for d in drafts if d.code == item.params["code"]),
            )
        )


Placed = list[tuple[str, shapely.MultiPolygon]]  # (code, geometry) of areas a draft must fit between


@dataclass
class _Neighbourhood:
    """What the drafts are checked against: their parents, their stored siblings, and each other. Drafts of
    one parent see each other: processed ones as snapped, the rest as drawn, so snapping one draft across a
    thin strip of a later sibling is caught as the overlap it would create."""

    cur: Any
    drafts: dict[str, CodedDraft]  # by code
    parent_geoms: dict[str, shapely.MultiPolygon]  # stored parents, then each draft that passed its checks
    parent_levels: dict[str, str]
    same_key: dict[tuple[str, str | None], list[CodedDraft]]  # drafts by (level, parent)
    processed: dict[tuple[str, str | None], Placed] = field(default_factory=lambda: defaultdict(list))
    _siblings: dict[tuple[str, str | None], Placed] = field(default_factory=dict)

    @classmethod
    def read(cls, cur: Any, drafts: list[CodedDraft], gap_parents: Sequence[str]) -> _Neighbourhood:
        by_code = {d.code: d for d in drafts}
        parent_codes = sorted(
            {d.parent_code for d in drafts if d.parent_code and d.parent_code not in by_code}
            | {p for p in gap_parents if p not in by_code}
        )
        parents = store.current_areas_by_code(cur, parent_codes)
        same_key: dict[tuple[str, str | None], list[CodedDraft]] = defaultdict(list)
        for d in drafts:
            same_key[(d.level, d.parent_code)].append(d)
        return cls(
            cur,
            by_code,
            {c: store.geometry(r) for c, r in parents.items()},
            {c: r["level"] for c, r in parents.items()} | {d.code: d.level for d in drafts},
            same_key,
        )

    def stored_siblings(self, level: str, parent: str | None) -> Placed:
        key = (level, parent)
        if key not in self._siblings:
            rows = store.siblings(self.cur, level, parent, exclude=list(self.drafts))
            self._siblings[key] = [(r["code"], store.geometry(r)) for r in rows]
        return self._siblings[key]

    def pending(self, d: CodedDraft) -> Placed:
        """The drafts of ``d``'s level and parent not checked yet, as drawn."""
        key = (d.level, d.parent_code)
        done = {c for c, _ in self.processed[key]}
        return [(o.code, o.geom) for o in self.same_key[key] if o is not d and o.code not in done]


def _check_parent(d: CodedDraft, hood: _Neighbourhood, problems: list[Problem]) -> None:
    """The parent exists and is of a coarser level."""
    if d.parent_code is None:
        return
    if d.parent_code not in hood.parent_levels:
        problems.append(
            Problem(
                "unknown_parent",
                message("grid.unknown_parent", parent=d.parent_code, code=d.code),
                [d.code, d.parent_code],
                None,
                d.feature,
            )
        )
    elif LEVEL_RANK[hood.parent_levels[d.parent_code]] >= LEVEL_RANK[d.level]:
        problems.append(
            Problem(
                "bad_level",
                message(
                    "grid.bad_level",
                    level=message(f"level.{d.level}"),
                    parent_level=message(f"level.{hood.parent_levels[d.parent_code]}"),
                    parent=d.parent_code,
                ),
                [d.code, d.parent_code],
                None,
                d.feature,
            )
        )


def _place(
    cur: Any,
    d: CodedDraft,
    hood: _Neighbourhood,
    row: store.AreaRow | None,
    problems: list[Problem],
    settings: GridSettings,
    mode: _Mode,
) -> _Planned | None:
    """Check one draft in its neighbourhood and snap it onto its neighbours' edges; None when its ring is
    invalid or its parent (another draft) has problems, which leaves nothing to place it against."""
    before = len(problems)
    _check_parent(d, hood, problems)
    invalid = checks.validity(d.code, d.geom, d.feature)
    problems.extend(invalid)
    if invalid:
        return None
    if d.parent_code is not None and d.parent_code in hood.drafts and d.parent_code not in hood.parent_geoms:
        problems.append(
            Problem(
                "unknown_parent",
                message("grid.unknown_parent.has_problems", parent=d.parent_code, code=d.code),
                [d.code, d.parent_code],
                None,
                d.feature,
            )
        )
        return None
    key = (d.level, d.parent_code)
    pending = hood.pending(d)
    neighbours = hood.stored_siblings(*key) + hood.processed[key] + pending
    parent_geom = hood.parent_geoms.get(d.parent_code) if d.parent_code else None
    references = [g for _, g in neighbours] + ([parent_geom] if parent_geom is not None else [])
    epsg = metric_epsg_for([d.geom])

    def placement(geom: shapely.MultiPolygon) -> list[Problem]:
        found = checks.overlaps(d.code, geom, neighbours, epsg, settings.overlap_tolerance_m2, d.feature)
        if parent_geom is not None and d.parent_code is not None:
            found += checks.outside_parent(
                d.code,
                geom,
                d.parent_code,
                parent_geom,
                epsg,
                settings.outside_parent_tolerance_m2,
                d.feature,
            )
        return found

    snapped_geom, snapped = snap_to_edges(d.geom, references, settings.snap_tolerance_m)
    stored = store.geometry(row) if row is not None and mode.keep_stored_boundary else None
    if stored is not None and _same_geometry(snapped_geom, stored, settings.snap_tolerance_m):
        # an import that gives the stored boundary back (to file round-off) keeps it as it is
        snapped_geom, snapped = stored, 0
    found = placement(snapped_geom)
    if snapped and found:
        # Snapping across a thin strip of a third area, or onto a sibling's edge that runs just outside the
        # parent, can create an overlap the drawing did not have: then keep the drawing.
        drawn = placement(d.geom)
        if sum(p.area_m2 or 0 for p in drawn) < sum(p.area_m2 or 0 for p in found):
            snapped_geom, snapped, found = d.geom, 0, drawn
    d.geom = snapped_geom
    # an overlap with a later sibling is reported once, when that sibling is checked
    later = {c for c, _ in pending}
    problems.extend(p for p in found if p.problem != "overlap" or p.codes[1] not in later)
    problems.extend(checks.slivers(d.code, d.geom, epsg, settings, d.feature))
    if row is not None and d.level != "grid":
        kids = [
            (r["code"], store.geometry(r))
            for r in store.children(cur, d.code)
            if r["code"] not in hood.drafts
        ]
        problems.extend(
            checks.children_outside(
                d.code, d.geom, kids, epsg, settings.outside_parent_tolerance_m2, d.feature
            )
        )
    hood.processed[key].append((d.code, d.geom))
    if len(problems) == before:
        hood.parent_geoms[d.code] = d.geom
    return _Planned(d, row, None, snapped, row is not None and _same_content(d, row))


def _report_gaps(
    cur: Any,
    drafts: list[CodedDraft],
    gap_parents: Sequence[str],
    hood: _Neighbourhood,
    problems: list[Problem],
    settings: GridSettings,
) -> None:
    """Land inside each parent that none of its children (checked drafts and stored ones) covers."""
    for parent in sorted({d.parent_code for d in drafts if d.parent_code} | set(gap_parents)):
        geom = hood.parent_geoms.get(parent)
        if geom is None:
            continue
        kids = [g for (_, p), items in hood.processed.items() if p == parent for _, g in items]
        stored = {c for (_, p), items in hood.processed.items() if p == parent for c, _ in items}
        kids += [store.geometry(r) for r in store.children(cur, parent) if r["code"] not in stored]
        problems.extend(checks.gaps(parent, geom, kids, metric_epsg_for([geom]), settings.gap_tolerance_m2))


def _write(
    cur: Any, planned: list[_Planned], principal: Principal, report: ImportReport
) -> list[tuple[int, str, int]]:
    written = []
    for item in planned:
        d = item.draft
        if item.unchanged:
            report.unchanged.append(d.code)
            continue
        if item.current is not None:
            since = store.close_version(cur, item.current["id"], principal.actor, "update")
            version, change = item.current["version"] + 1, "update"
            report.updated.append(d.code)
        elif item.latest is not None:
            since = max(item.latest["valid_to"], _now(cur))
            version, change = item.latest["version"] + 1, "restore"
            report.restored.append(d.code)
        else:
            since, version, change = None, 1, "create"
            report.created.append(d.code)
        area_id = store.insert_version(cur, d.row(), version, principal.actor, change, valid_from=since)
        report.snapped_vertices += item.snapped
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action=change,
            entity="area",
            entity_id=d.code,
            detail={"version": version, "level": d.level, "snapped_vertices": item.snapped},
        )
        written.append((area_id, d.code, version))
    return written


def _now(cur: Any) -> Any:
    cur.execute("SELECT now() AS now")
    return fetch_one(cur)["now"]


def problems_error(problems: list[Problem]) -> InvalidInput:
    """The 422 for ``problems``: one problem answers with its own code and message (``grid.overlap``),
    several with ``grid.problems``; ``detail`` lists them all. Gaps, which only a dry run reports, do not
    count when something else is wrong, so a validation answers with the code its import would."""
    detail = [p.as_dict() for p in problems]
    refusing = [p for p in problems if p.problem != "gap"] or problems
    if len(refusing) == 1:
        return InvalidInput(refusing[0].message.code, detail, **refusing[0].message.params)
    return InvalidInput("grid.problems", detail, count=len(problems))


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise problems_error(problems)


def _single_result(db_cur: Any, planned: list[_Planned], written: list[tuple[int, str, int]]) -> WriteResult:
    item = planned[0]
    if written:
        area_id, code, version = written[0]
    else:  # unchanged: nothing written, so the current version stands
        assert item.current is not None
        area_id, code, version = item.current["id"], item.current["code"], item.current["version"]
    row = store.current_area(db_cur, code)
    assert row is not None  # written in this transaction
    return WriteResult(area_id, code, version, row["change"], item.snapped, area_feature(row))


def create_area(
    db: Database,
    feature: UncheckedJson,
    principal: Principal,
    *,
    auto_number: bool = False,
    settings: GridSettings | None = None,
) -> WriteResult:
    """Create one area from a GeoJSON Feature (a deleted code may come back only for the same land).

    Raises
    ------
    InvalidInput
        With the list of problems (invalid ring, overlap with a sibling, outside its parent, sliver, ...).
    Conflict
        The code is in use.
    """
    settings = settings or GridSettings()
    problems: list[Problem] = []
    drafts = _drafts([feature], problems, "api", settings)
    _raise_problems(problems)
    with db.cursor() as cur:
        _number(cur, drafts, auto_number, problems)
        _raise_problems(problems)
        planned = _plan(cur, _coded(drafts), problems, settings, CREATE)
        _raise_problems(problems)
        written = _write(cur, planned, principal, ImportReport())
        return _single_result(cur, planned, written)


def _updated_feature(row: store.AreaRow, feature: Mapping[str, UncheckedJson]) -> _SentFeature:
    """The current version ``row`` with the properties and geometry ``feature`` (as the caller sent it) gives
    (the rest kept): a Feature to validate like an import's."""
    code = row["code"]
    base = area_feature(row)
    props = {
        k: v
        for k, v in base["properties"].items()
        if k in ("name", "level", "parent_code", "households", "population", "workers")
    }
    props |= {k: v for k, v in (row.get("properties") or {}).items()}
    given = feature.get("properties") or {}
    if not isinstance(given, dict):
        raise InvalidInput("grid.invalid_feature.properties")
    if given.get("code") not in (None, code):
        raise InvalidInput("grid.code_differs", given=str(given["code"])[:80], path=code)
    props |= given
    props["code"] = code
    return {"type": "Feature", "properties": props, "geometry": feature.get("geometry") or base["geometry"]}


def update_area(
    db: Database,
    code: str,
    feature: UncheckedJson,
    principal: Principal,
    *,
    if_match: int | None = None,
    settings: GridSettings | None = None,
) -> WriteResult:
    """Replace the current version of ``code``; properties left out keep their current values, and a missing
    geometry keeps the current boundary.

    Raises
    ------
    PreconditionFailed
        ``if_match`` (or ``properties.version``) is not the current version: someone saved in between.
    NotFound, InvalidInput
    """
    settings = settings or GridSettings()
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput("grid.feature_expected")
    with db.cursor() as cur:
        row = store.current_area(cur, code)
    if row is None:
        _not_found(db, code)
    merged = _updated_feature(row, feature)
    problems: list[Problem] = []
    drafts = _drafts([merged], problems, row["source"], settings)
    _raise_problems(problems)
    expected = {code: if_match} if if_match is not None else None
    with db.cursor() as cur:
        planned = _plan(cur, _coded(drafts), problems, settings, UPDATE, expected=expected)
        _raise_problems(problems)
        written = _write(cur, planned, principal, ImportReport())
        return _single_result(cur, planned, written)


def merge_areas(
    db: Database,
    code: str,
    absorb: Sequence[str],
    principal: Principal,
    *,
    feature: dict[str, Any] | None = None,
    if_match: int | None = None,
    versions: dict[str, int] | None = None,
    settings: GridSettings | None = None,
) -> WriteResult:
    """Merge the areas ``absorb`` into ``code`` in one transaction: their versions are closed (change
    ``merge``; codes never reused) and ``code`` gets a new version whose boundary is ``feature``'s geometry
    or, without one, the union — which must then be one piece. Households, population and workers on record
    add up when every merged area has them. All or nothing.

    Raises
    ------
    NotFound, PreconditionFailed (``if_match`` for ``code``, ``versions`` for the absorbed)
    InvalidInput
        Not the same level and parent, a union in several pieces, or the new boundary's own problems.
    Conflict
        An absorbed area still has current children.
    """
    settings = settings or GridSettings()
    absorb = list(dict.fromkeys(absorb))
    if not absorb or code in absorb:
        raise InvalidInput("grid.merge_absorb")
    if any("\x00" in c or len(c) > 64 for c in absorb):
        raise InvalidInput("grid.merge_bad_code")
    if feature is not None and (not isinstance(feature, dict) or feature.get("type") != "Feature"):
        raise InvalidInput("grid.merge_feature")
    with db.cursor() as cur:
        store.lock_codes(cur, [code, *absorb])
        keep = store.current_area(cur, code, for_update=True)
        if keep is None:
            _not_found(db, code)
        rows = []
        for other in absorb:
            row = store.current_area(cur, other, for_update=True)
            if row is None:
                raise NotFound("grid.not_found", code=other)
            rows.append(row)
        for row, asked in ((keep, if_match), *((r, (versions or {}).get(r["code"])) for r in rows)):
            if asked is not None and asked != row["version"]:
                raise PreconditionFailed("grid.stale", code=row["code"], current=row["version"], asked=asked)
        for row in rows:
            if (row["level"], row["parent_code"]) != (keep["level"], keep["parent_code"]):
                raise InvalidInput(
                    "grid.merge_not_sibling",
                    code=row["code"],
                    level=message(f"level.{keep['level']}"),
                    parent=keep["parent_code"],
                )
            kids = store.children(cur, row["code"])
            if kids:
                raise Conflict("grid.merge_has_children", code=row["code"], count=len(kids))
        together = [keep, *rows]
        union = shapely.union_all([shapely.from_wkb(r["wkb"]) for r in together])
        given = feature or {"type": "Feature", "properties": {}}
        if given.get("geometry") is None:
            pieces = len(union.geoms) if hasattr(union, "geoms") else 1
            if pieces != 1:
                raise InvalidInput("grid.merge_disjoint", pieces=pieces)
            given = {**given, "geometry": to_geojson(union)}

        def total(values: list[int | None]) -> int | None:
            return sum(v for v in values if v is not None) if all(v is not None for v in values) else None

        sums: _MergedCounts = {
            "households": total([r["households"] for r in together]),
            "population": total([r["population"] for r in together]),
            "workers": [w for r in together for w in (r["workers"] or [])],
        }
        props = {**sums, **(given.get("properties") or {})}
        merged = _updated_feature(keep, {**given, "properties": props})
        for row in rows:
            store.close_version(cur, row["id"], principal.actor, "merge")
            audit.record(
                cur,
                actor=principal.actor,
                role=principal.role,
                action="merge",
                entity="area",
                entity_id=row["code"],
                detail={"version": row["version"], "into": code},
            )
        problems: list[Problem] = []
        drafts = _drafts([merged], problems, keep["source"], settings)
        _raise_problems(problems)
        planned = _plan(cur, _coded(drafts), problems, settings, UPDATE, expected={code: keep["version"]})
        _raise_problems(problems)
        written = _write(cur, planned, principal, ImportReport())
        return _single_result(cur, planned, written)


def delete_area(db: Database, code: str, principal: Principal, *, if_match: int | None = None) -> int:
    """Close the validity of ``code`` (its history stays; the code is never reused for other land).
    Returns the version that was closed.

    Raises
    ------
    NotFound, PreconditionFailed
    Conflict
        The area still has current children.
    """
    with db.cursor() as cur:
        store.lock_codes(cur, [code])
        row = store.current_area(cur, code, for_update=True)
        if row is None:
            _not_found(db, code)
        if if_match is not None and if_match != row["version"]:
            raise PreconditionFailed("grid.stale", code=code, current=row["version"], asked=if_match)
        kids = store.children(cur, code)
        if kids:
            raise Conflict(
                "grid.has_children", code=code, count=len(kids), codes=[k["code"] for k in kids[:10]]
            )
        store.close_version(cur, row["id"], principal.actor, "delete")
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="delete",
            entity="area",
            entity_id=code,
            detail={"version": row["version"]},
        )
        return int(row["version"])


def import_features(
    db: Database,
    features: Sequence[UncheckedJson],
    principal: Principal,
    *,
    auto_number: bool = False,
    source: str = "import",
    settings: GridSettings | None = None,
) -> ImportReport:
    """Create or update every feature, all or nothing. A feature carrying ``properties.version`` must match
    the current version of its code (else 412: no lost update through a stale export).

    Raises
    ------
    InvalidInput
        Every problem of every bad feature, with its index; nothing is written.
    """
    settings = settings or GridSettings()
    if len(features) == 0:
        raise InvalidInput("grid.import_empty")
    if len(features) > settings.max_import_features:
        raise InvalidInput("grid.too_many_features", count=len(features), limit=settings.max_import_features)
    problems: list[Problem] = []
    report = ImportReport()
    with db.cursor() as cur:
        drafts = _drafts(_with_stored_values(cur, features), problems, source, settings)
        _number(cur, drafts, auto_number, problems)
        planned = _plan(cur, _coded(drafts), problems, settings, IMPORT)
        _raise_problems(problems)
        _write(cur, planned, principal, report)
    return report


def _with_stored_values(cur: Any, features: Sequence[UncheckedJson]) -> list[UncheckedJson]:
    """``features`` with each value that is a current area's own value as a file carries it (a boolean as 1 or
    ``T``, an integer as a real, text cut at 254 bytes, a name cut to 10 bytes: :func:`fields.reconcile`)
    replaced by the stored value, so that an export re-imported through any tool changes nothing."""

    def code_of(feature: UncheckedJson) -> str | None:
        props = feature.get("properties") if isinstance(feature, dict) else None
        code = props.get("code") if isinstance(props, dict) else None
        return None if code is None or str(code).strip() == "" else str(code).strip()

    current = store.current_areas_by_code(cur, [c for c in map(code_of, features) if c is not None])
    if not current:
        return list(features)
    out = []
    for feature in features:
        row = current.get(code_of(feature))  # type: ignore[arg-type]
        if row is not None:
            stored = {
                k: row[k]
                for k in (
                    "code",
                    "name",
                    "level",
                    "parent_code",
                    "households",
                    "population",
                    "workers",
                    "version",
                )
            }
            for key, value in (row["properties"] or {}).items():
                stored.setdefault(key, value)
            feature = {**feature, "properties": fields.reconcile(feature["properties"], stored)}
        out.append(feature)
    return out


def validate_features(
    db: Database,
    features: Sequence[UncheckedJson],
    *,
    parent_code: str | None = None,
    auto_number: bool = False,
    settings: GridSettings | None = None,
) -> list[Problem]:
    """Dry run of an import: the same checks plus gaps inside each parent. With no features and a
    ``parent_code``, checks the stored children of that parent. Nothing is written.

    Returns
    -------
    the problems (empty when all is well); :func:`problems_error` makes the 422 of them
    """
    settings = settings or GridSettings()
    if len(features) > settings.max_import_features:
        raise InvalidInput("grid.too_many_features", count=len(features), limit=settings.max_import_features)
    problems: list[Problem] = []
    with db.cursor() as cur:
        drafts = _drafts(_with_stored_values(cur, features), problems, "validate", settings)
        if parent_code is not None:
            if store.current_area(cur, parent_code) is None:
                raise NotFound("grid.not_found", code=parent_code)
            if not features:
                drafts = _drafts(
                    [area_feature(r) for r in store.children(cur, parent_code)],
                    problems,
                    "validate",
                    settings,
                )
        if not auto_number:
            # a shape still being drawn has no code yet: check it under a provisional name
            for d in drafts:
                if d.code is None:
                    d.code, d.provisional = f"(feature {d.feature})", True
        _number(cur, drafts, auto_number, problems)
        gap_parents = [parent_code] if parent_code else []
        _plan(cur, _coded(drafts), problems, settings, VALIDATE, gap_parents=gap_parents)
        cur.connection.rollback()
    return problems


# -- planning numbers ---------------------------------------------------------------------------------------


def area_stats(db: Database, code: str, settings: GridSettings | None = None) -> AreaStats:
    """Planning numbers of one area: km², households, population, residences, staffing need and gap.

    Households and population come from the area's own record when set; otherwise households are summed
    from the residences inside it and population is households × ``persons_per_household``. Staffing need is
    ``population × workers_per_10k_residents / 10,000`` rounded up; the gap is need minus the workers on
    record in the area and all areas below it (positive = short of staff).
    """
    settings = settings or GridSettings()
    with db.cursor() as cur:
        row = store.area_stats(cur, code)
    if row is None:
        _not_found(db, code)
    residence_households = float(row["residence_households"])
    households = row["households"] if row["households"] is not None else round(residence_households)
    population_source: Literal["record", "estimated"]
    if row["population"] is not None:
        population, population_source = row["population"], "record"
    else:
        population, population_source = round(households * settings.persons_per_household), "estimated"
    need = math.ceil(population * settings.workers_per_10k_residents / 10_000 - 1e-9)
    workers = int(row["workers_on_record"])
    return {
        "code": row["code"],
        "name": row["name"],
        "level": row["level"],
        "parent_code": row["parent_code"],
        "version": row["version"],
        "area_km2": round(float(row["area_m2"]) / 1e6, 6),
        "households": households,
        "households_source": "record" if row["households"] is not None else "residences",
        "residence_households": round(residence_households, 1),
        "population": population,
        "population_source": population_source,
        "residences": int(row["residences"]),
        "children": int(row["children"]),
        "staffing_norm_per_10k": settings.workers_per_10k_residents,
        "staffing_need": need,
        "workers": workers,
        "staffing_gap": need - workers,
    }


def export_areas(
    db: Database, fmt: str, level: str | None = None, parent_code: str | None = None
) -> tuple[bytes, str, str]:
    """Current areas as a file: (bytes, media type, file name). ``fmt`` is geojson, gpkg or shp (zipped)."""
    from geo_service.grids import io as area_io

    if fmt not in area_io.FORMATS:
        raise InvalidInput("grid.bad_format", format=fmt[:40], allowed=list(area_io.FORMATS))
    collection = list_areas(db, level, parent_code)
    media_type, suffix = area_io.FORMATS[fmt]
    return area_io.write_features(collection["features"], fmt), media_type, f"areas.{suffix}"


def read_upload(
    data: bytes, filename: str | None = None, crs: str | None = None, settings: GridSettings | None = None
) -> list[UncheckedJson]:
    """Features of an uploaded file (GeoJSON / GeoPackage / zipped Shapefile, any CRS), in WGS-84."""
    from geo_service.grids import io as area_io

    return area_io.read_features(data, filename, crs, settings)


def features_of(obj: UncheckedJson, crs: str | None = None) -> list[UncheckedJson]:
    """Features of a parsed GeoJSON body (FeatureCollection, Feature or list), in WGS-84."""
    from geo_service.grids import io as area_io

    return area_io.features_from_geojson(obj, crs)
