"""Open311 GeoReport v2 over our incidents, so existing Open311 clients work unchanged.

Mapping (written from the published spec, http://wiki.open311.org/GeoReport_v2):

- **services** = the categories of the classification; ``service_code`` = category code (``E0102``),
  ``group`` = its major class, ``metadata`` = true where a category has attributes (components take an
  optional ``component_id``, the 16-digit 部件编码).
- **POST requests** (form-encoded) = intake with ``source=open311``; ``api_key`` is one of our API tokens with the
  dispatcher (or admin) role; location from ``lat``/``long`` (WGS-84), ``address_string`` (geocoder) or
  ``address_id`` (a gazetteer id); contact fields go to the reporter.
- **status**: ``closed`` once the loop is closed or the incident was rejected, else ``open``;
  ``status_notes`` = the note of the latest step; ``agency_responsible`` = the area that owns it now;
  ``expected_datetime`` = its deadline.
- **GET requests**: ``service_request_id`` (comma list) overrides everything; otherwise ``service_code`` and
  ``status`` (comma lists), ``start_date``/``end_date`` on requested_datetime, at most 90 days apart, default the
  last 90 days, newest first, at most 1,000 requests.
- **Who sees what**: anyone gets the public form of a request — its id, service, status, responsible area and
  dates, with ``lat``/``long`` moved to the centre of its H3 cell (resolution
  ``GEO_SERVICE_INCIDENTS_PUBLIC_H3_RESOLUTION``, 9 ≈ 0.1 km²) and no ``description``, ``address``,
  ``status_notes`` or ``media_url`` (callers write names, phone numbers and house numbers into them). A dispatcher
  (or admin) token, as ``api_key`` or a bearer token, gets them in full. Reporter contact fields are never
  returned.
- Errors: 404 for what does not exist, 403 for a missing or wrong api_key, 400 for anything else, as
  ``[{"code", "description"}]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3

from geo_service.auth import Principal, authenticate
from geo_service.errors import BadRequest, Forbidden, InvalidInput, NotFound
from geo_service.incidents import states
from geo_service.incidents.categories import LEVELS, Category
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.intake import IncidentInput, create_incident
from geo_service.store import gazetteer as gazetteer_store
from geo_service.store import incidents as store

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
API_CHANGESET = "2024-06-01T00:00:00+08:00"  # when this endpoint's behaviour last changed
MAX_WINDOW = timedelta(days=90)
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
COMPONENT_ATTRIBUTES = [
    {
        "variable": True,
        "code": "component_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "16 digits: 6 administrative + 2 major class + 2 minor class + 6 serial",
        "order": 1,
        "description": "部件编码 — the code painted on or registered for the component, if known",
        "values": [],
    }
]


@dataclass(frozen=True)
class RequestQuery:
    """GET requests parameters, as given (comma lists still joined)."""

    service_request_id: str | None = None
    service_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None


def check_jurisdiction(ctx: IncidentContext, jurisdiction_id: str | None) -> None:
    """One jurisdiction per endpoint: any value is accepted unless a jurisdiction is configured."""
    expected = ctx.settings.open311_jurisdiction_id
    if expected and jurisdiction_id and jurisdiction_id != expected:
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} not found; this endpoint serves {expected!r}")


def _attributes(category: Category) -> list[dict[str, Any]]:
    return COMPONENT_ATTRIBUTES if category.kind == "component" else []


def _deadline_notice(category: Category) -> str:
    hours = category.deadline_hours["grid"]
    return (f"由网格在 {hours:g} 小时内处置，逾期逐级上报社区、街道、区。 "
            f"The grid handles it within {hours:g} h; overdue, it escalates to the community, street and district.")  # fmt: skip


def service_list(ctx: IncidentContext) -> list[dict[str, Any]]:
    """Every minor class (the ones callers report) and every major class that has no minor classes."""
    majors_with_children = {c.major_code for c in ctx.classification if not c.is_major}
    out = []
    for category in ctx.classification:
        if category.is_major and category.code in majors_with_children:
            continue
        out.append({
            "service_code": category.code,
            "service_name": category.name,
            "description": f"{category.name_en} ({'事件 event' if category.kind == 'event' else '部件 component'}"
                           f" · {category.major_name})",
            "metadata": bool(_attributes(category)),
            "type": "realtime",
            "keywords": ", ".join(dict.fromkeys([category.name, category.name_en, category.major_name])),
            "group": category.major_name,
        })  # fmt: skip
    return out


def _category(ctx: IncidentContext, code: str | None) -> Category:
    if not code:
        raise BadRequest("service_code was not provided")
    found = ctx.classification.get(code.strip())
    if found is None:
        raise NotFound(f"service_code {code!r} not found")
    return found


def service_definition(ctx: IncidentContext, code: str) -> dict[str, Any]:
    category = _category(ctx, code)
    return {"service_code": category.code, "attributes": _attributes(category)}


def _api_principal(ctx: IncidentContext, api_key: str | None) -> Principal:
    if not api_key:
        raise Forbidden("api_key is missing: POST requests needs an API token with the dispatcher role")
    principal = authenticate(ctx.db, api_key.strip())
    if principal is None:
        raise Forbidden("invalid api_key received -- can't proceed with create_request")
    if not principal.has_role("dispatcher"):
        raise Forbidden(f"this api_key has the role '{principal.role}'; creating requests needs dispatcher")
    return principal


def _float(form: dict[str, list[str]], key: str) -> float | None:
    value = (form.get(key) or [""])[0].strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"{key} must be a number, not {value!r}") from None


def _one(form: dict[str, list[str]], key: str) -> str | None:
    value = (form.get(key) or [""])[0].strip()
    return value or None


def parse_attributes(form: dict[str, list[str]]) -> dict[str, Any]:
    """``attribute[code]=v`` → ``{code: v}``; ``attribute[code][]=a&attribute[code][]=b`` → ``{code: [a, b]}``."""
    out: dict[str, Any] = {}
    for key, values in form.items():
        match = _ATTRIBUTE_KEY.match(key)
        if match:
            out[match.group(1)] = list(values) if match.group(2) else values[-1]
    return out


def create_request(ctx: IncidentContext, form: dict[str, list[str]]) -> list[dict[str, Any]]:
    """POST requests: one incident from a form; the answer is the one-element ``service_requests`` list."""
    check_jurisdiction(ctx, _one(form, "jurisdiction_id"))
    principal = _api_principal(ctx, _one(form, "api_key"))
    category = _category(ctx, _one(form, "service_code"))
    lat, lon = _float(form, "lat"), _float(form, "long")
    address, address_id = _one(form, "address_string"), _one(form, "address_id")
    if (lat is None) != (lon is None):
        raise BadRequest("lat and long must both be sent")
    if lat is None and address_id:
        point = _address_point(ctx, address_id)
        lon, lat = point["lon"], point["lat"]
        address = address or point["name"]
    if lat is None and not address:
        raise BadRequest("a location is required: lat & long, address_string or address_id")
    attributes = parse_attributes(form)
    for attribute in _attributes(category):
        if attribute["required"] and attribute["code"] not in attributes:
            raise BadRequest(f"attribute[{attribute['code']}] is required for service_code {category.code}")
    reporter = {key: _one(form, key) for key in ("first_name", "last_name", "email", "phone", "device_id",
                                                  "account_id")}  # fmt: skip
    data = IncidentInput(category=category.code, description=_one(form, "description"), lon=lon, lat=lat,
                         crs="wgs84", address=address, reporter=reporter, media_url=_one(form, "media_url"),
                         attributes=attributes)  # fmt: skip
    try:
        result = create_incident(ctx, data, principal.actor, principal.role, source="open311")
    except InvalidInput as exc:  # Open311 knows 400 for a request it cannot fulfil
        raise BadRequest(_with_candidates(exc)) from exc
    return [{"service_request_id": str(result.incident["id"]), "service_notice": _deadline_notice(category),
             "account_id": reporter["account_id"]}]  # fmt: skip


def _with_candidates(exc: InvalidInput) -> str:
    text = str(exc.detail)
    candidates = exc.extra.get("candidates") or []
    if candidates:
        listed = "; ".join(f"{c['name']} ({c['lon']}, {c['lat']})" for c in candidates[:5])
        text += f". Candidates: {listed}"
    return text


def _address_point(ctx: IncidentContext, address_id: str) -> dict[str, Any]:
    if not address_id.isdigit():
        raise BadRequest(f"address_id {address_id!r} is not one of ours (gazetteer ids are numbers)")
    with ctx.db.cursor() as cur:
        found = gazetteer_store.entry(cur, int(address_id))
    if found is None:
        raise BadRequest(f"address_id {address_id} is unknown")
    return found


def parse_datetime(value: str, name: str, ctx: IncidentContext) -> datetime:
    """A w3 / ISO 8601 datetime; one without a zone is read in the service's zone."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{name} must be a w3 datetime such as 2010-01-01T00:00:00Z, not {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ctx.timezone)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def find_requests(ctx: IncidentContext, query: RequestQuery, full: bool = False) -> list[dict[str, Any]]:
    """GET requests: in full for a dispatcher (``full``), else the public form (see the module doc)."""
    ids = _split(query.service_request_id)
    limit = ctx.settings.open311_max_requests
    if ids:
        if not all(i.isdigit() for i in ids):
            raise BadRequest("service_request_id must be a comma-separated list of request ids")
        with ctx.db.cursor() as cur:
            rows = store.list_incidents(cur, ids=[int(i) for i in ids], limit=limit)
        return _requests(ctx, rows, full)
    codes = [_category(ctx, code).code for code in _split(query.service_code)]
    wanted: list[str] = []
    for status in _split(query.status):
        if status not in ("open", "closed"):
            raise BadRequest(f"status must be open or closed, not {status!r}")
        wanted += states.statuses_for_open311(status)
    start = parse_datetime(query.start_date, "start_date", ctx) if query.start_date else None
    end = parse_datetime(query.end_date, "end_date", ctx) if query.end_date else None
    if start is None and end is None:
        end = ctx.now()
    if start is None:
        start = end - MAX_WINDOW
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise BadRequest("end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise BadRequest("start_date and end_date may not span more than 90 days")
    with ctx.db.cursor() as cur:
        rows = store.list_incidents(cur, statuses=wanted or None, categories=codes or None, created_from=start,
                                    created_to=end, limit=limit)  # fmt: skip
    return _requests(ctx, rows, full)


def get_request(ctx: IncidentContext, request_id: str, full: bool = False) -> list[dict[str, Any]]:
    """GET requests/{id}: a one-element list (the spec's shape)."""
    if not request_id.isdigit():
        raise NotFound(f"service_request_id {request_id!r} not found")
    with ctx.db.cursor() as cur:
        rows = store.list_incidents(cur, ids=[int(request_id)], limit=1)
    if not rows:
        raise NotFound(f"service_request_id {request_id} not found")
    return _requests(ctx, rows, full)


def _agency(row: dict[str, Any]) -> str | None:
    owner = next((a for a in row["area_snapshot"] if a["code"] == row["owner_code"]), None)
    if owner is None:
        return row["owner_code"]
    level_zh = dict(zip(LEVELS, ("网格", "社区", "街道", "区"), strict=True))[owner["level"]]
    return f"{owner['name']}{level_zh if not owner['name'].endswith(level_zh) else ''} ({owner['code']})"


def may_read_in_full(principal: Principal | None) -> bool:
    """Whether ``principal`` gets requests with their text, address, notes, photo and exact point."""
    return principal is not None and principal.has_role("dispatcher")


def api_key_principal(ctx: IncidentContext, api_key: str | None) -> Principal | None:
    """The caller behind an ``api_key`` query argument of a GET (None without one); 403 for an invalid key."""
    if not api_key:
        return None
    principal = authenticate(ctx.db, api_key.strip())
    if principal is None:
        raise Forbidden("invalid api_key received -- can't proceed")
    return principal


def public_point(lon: float, lat: float, resolution: int) -> tuple[float, float]:
    """The centre of the H3 cell holding ``lon``/``lat`` (WGS-84 degrees): where anyone may see a request."""
    cell_lat, cell_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, resolution))
    return round(cell_lon, 6), round(cell_lat, 6)


def _requests(ctx: IncidentContext, rows: list[dict[str, Any]], full: bool) -> list[dict[str, Any]]:
    with ctx.db.cursor() as cur:
        notes = store.latest_notes(cur, [row["id"] for row in rows]) if rows and full else {}
    out = []
    for row in rows:
        category = ctx.classification.get(row["category"])
        lon, lat = (round(row["lon"], 7), round(row["lat"], 7)) if full else public_point(
            row["lon"], row["lat"], ctx.settings.public_h3_resolution)  # fmt: skip
        out.append({
            "service_request_id": str(row["id"]),
            "status": states.open311_status(row["status"]),
            "status_notes": notes.get(row["id"]),
            "service_name": category.name if category else row["category"],
            "service_code": row["category"],
            "description": row["description"] if full else None,
            "agency_responsible": _agency(row),
            "service_notice": _deadline_notice(category) if category else None,
            "requested_datetime": ctx.local(row["created_at"]),
            "updated_datetime": ctx.local(row["closed_at"] or row["updated_at"]),
            "expected_datetime": ctx.local(row["due_at"]) if row["status"] in states.ACTIVE else None,
            "address": row["address"] if full else None,
            "address_id": None,
            "zipcode": None,
            "lat": lat,
            "long": lon,
            "media_url": row["media_url"] if full else None,
        })  # fmt: skip
    return out


def discovery(ctx: IncidentContext, base_url: str) -> dict[str, Any]:
    """The Open311 service discovery document."""
    return {
        "changeset": API_CHANGESET,
        "contact": "12345 dispatch centre (geo-service)",
        "key_service": "API tokens with the dispatcher role: geo-service token create --role dispatcher",
        "endpoints": [{"specification": SPEC_URL, "url": base_url, "changeset": API_CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }  # fmt: skip
