"""Facilities: the imported OpenStreetMap POIs plus what planners add or correct (``source`` says which).

A correction of an imported facility detaches it from its dataset so a re-import keeps the correction;
deleting an imported facility leaves a tombstone so a re-import does not bring it back. Categories are the
stable ids of the facility rules file (``grocery``, ``pharmacy``, ...). Every write is versioned (ETag).
"""

from __future__ import annotations

from typing import Any

from geo_service import feature_input
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, NotFound
from geo_service.geojson import Feature, FeatureCollection
from geo_service.osm.rules import FacilityRules
from geo_service.store import audit
from geo_service.store import facilities as store
from geo_service.store.facilities import FacilityRow

_KNOWN = {
    "name",
    "category",
    "tags",
    "version",
    "id",
    "source",
    "dataset",
    "osm_type",
    "osm_id",
    "updated_at",
}


def _validate(
    rules: FacilityRules, feature: Any, crs: str | None, current: FacilityRow | None = None
) -> tuple[str | None, str, dict[str, Any], float, float]:
    props = feature_input.feature_properties(feature, "facility")
    if current is not None:
        props = {"name": current["name"], "category": current["category"], "tags": current["tags"], **props}
    if feature.get("geometry") is None and current is not None:
        lon, lat = float(current["lon"]), float(current["lat"])
    else:
        lon, lat = feature_input.point(feature.get("geometry"), crs)
    category = props.get("category")
    ids = [c.id for c in rules.categories]
    if category not in ids:
        raise InvalidInput("facility.unknown_category", category=str(category), categories=list(ids))
    name = feature_input.text(props, "name", 300)
    tags = props.get("tags") or {}
    if not isinstance(tags, dict):
        raise InvalidInput("facility.tags_not_an_object")
    tags = {**tags, **{k: v for k, v in props.items() if k not in _KNOWN}}
    return name, str(category), tags, lon, lat


def as_feature(row: FacilityRow, labels: dict[str, str] | None = None) -> Feature:
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]},
        "properties": {
            "id": row["id"],
            "name": row["name"],
            "category": row["category"],
            "category_name": (labels or {}).get(row["category"]),
            "source": row["source"],
            "dataset": row["dataset"],
            "osm_type": row["osm_type"],
            "osm_id": row["osm_id"],
            "tags": row["tags"],
            "version": row["version"],
            "updated_at": row["updated_at"].isoformat() if row.get("updated_at") else None,
        },
    }


def create_facility(
    db: Database, rules: FacilityRules, feature: Any, principal: Principal, crs: str | None = None
) -> Feature:
    name, category, tags, lon, lat = _validate(rules, feature, crs)
    with db.cursor() as cur:
        row = store.insert(cur, name, category, tags, lon, lat, principal.actor)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="create",
            entity="facility",
            entity_id=row["id"],
            detail={"category": category, "name": name},
        )
    return as_feature(row, rules.labels())


def update_facility(
    db: Database,
    rules: FacilityRules,
    facility_id: int,
    feature: Any,
    principal: Principal,
    if_match: int | None = None,
    crs: str | None = None,
) -> Feature:
    asked = feature_input.version_asked(feature, if_match)
    with db.cursor() as cur:
        current = store.get(cur, facility_id, for_update=True)
        if current is None:
            raise NotFound("facility.not_found", facility_id=facility_id)
        feature_input.check_version(current, asked, "facility")
        name, category, tags, lon, lat = _validate(rules, feature, crs, current)
        row = store.update(cur, facility_id, name, category, tags, lon, lat, principal.actor)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="update",
            entity="facility",
            entity_id=facility_id,
            detail={"version": row["version"], "was": current["category"]},
        )
    return as_feature(row, rules.labels())


def delete_facility(
    db: Database, facility_id: int, principal: Principal, if_match: int | None = None
) -> None:
    with db.cursor() as cur:
        current = store.get(cur, facility_id, for_update=True)
        if current is None:
            raise NotFound("facility.not_found", facility_id=facility_id)
        feature_input.check_version(current, if_match, "facility")
        store.delete(cur, facility_id, principal.actor)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="delete",
            entity="facility",
            entity_id=facility_id,
            detail={"name": current["name"], "category": current["category"]},
        )


def get_facility(db: Database, rules: FacilityRules, facility_id: int) -> Feature:
    with db.cursor() as cur:
        row = store.get(cur, facility_id)
    if row is None:
        raise NotFound("facility.not_found", facility_id=facility_id)
    return as_feature(row, rules.labels())


def list_facilities(
    db: Database,
    rules: FacilityRules,
    category: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    source: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> FeatureCollection:
    if not 1 <= limit <= 10_000 or offset < 0:
        raise InvalidInput("facility.paging_range")
    with db.cursor() as cur:
        rows = store.list_facilities(cur, category, bbox, source, limit, offset)
    labels = rules.labels()
    return {"type": "FeatureCollection", "features": [as_feature(r, labels) for r in rows]}
