"""Open311 GeoReport v2 over our incidents, so existing Open311 clients work unchanged.

Mapping (written from the published spec, http://wiki.open311.org/GeoReport_v2):

- **services** = the categories of the classification; ``service_code`` = category code (``E0102``),
  ``group`` = its major class, ``metadata`` = true where a category has attributes (components take an
  optional ``component_id``, the 16-digit 部件编码; a class may ask more, from the classification file).
  Names, descriptions and notes in the negotiated language (``Accept-Language``; zh-CN by default).
- **POST requests** (form-encoded) = intake with ``source=open311``; ``api_key`` is one of our API tokens with the
  dispatcher (or admin) role; location from ``lat``/``long`` (WGS-84), ``address_string`` (geocoder) or
  ``address_id`` (a gazetteer id); contact fields go to the reporter. ``address_string`` alone follows the
  native intake's rule: only a confident house number, building or POI places a request, otherwise 409.
  ``attribute[code]`` values are checked against the service definition (required, type, allowed values).
  Multipart posts may carry a photo in the file field ``media``, checked and cleaned like any photo (JPEG, PNG,
  WebP, HEIC by content; size capped; EXIF and GPS stripped) and stored with the request in one transaction.
- **status**: ``closed`` once the loop is closed (after the caller's callback, 回访) or the incident was
  rejected, else ``open``; ``status_notes`` = the note of the latest step (a callback's outcome included); ``agency_responsible`` = the name of the unit that owns it
  now (grid, community, street or district); ``expected_datetime`` = its deadline.
- **GET requests**: ``service_request_id`` (comma list) overrides everything; otherwise ``service_code`` and
  ``status`` (comma lists), ``start_date``/``end_date`` on requested_datetime, at most 90 days apart, default the
  last 90 days, newest first, at most 1,000 requests.
- **Who sees what**: anyone gets the public form of a request — its id, service, status, responsible area and
  dates, with ``lat``/``long`` moved to the centre of its H3 cell (resolution
  ``GEO_SERVICE_INCIDENTS_PUBLIC_H3_RESOLUTION``, 9 ≈ 0.1 km²) and no ``description``, ``address``,
  ``status_notes`` or ``media_url`` (callers write names, phone numbers and house numbers into them). A dispatcher
  (or admin) token, as ``api_key`` or a bearer token, gets them in full; ``media_url`` is then the link to the
  request's first photo, which that token (as a bearer token) may read. Reporter contact fields are never
  returned.
- Errors: 404 for what does not exist, 403 for a missing or wrong api_key, 409 for an address that cannot
  place a request by itself, 400 for anything else, as ``[{"code", "description"}]``.
- ``discovery.changeset``: when the service list or any request last changed (from the data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import h3

from geo_service.auth import Principal, authenticate
from geo_service.errors import BadRequest, Forbidden, NotFound
from geo_service.i18n import Message, message
from geo_service.incidents import notes, states
from geo_service.incidents.categories import BUNDLED_FILE, Attribute, Category
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.intake import IncidentInput, create_incident
from geo_service.media.images import clean
from geo_service.media.service import first_photo_urls
from geo_service.open311.documents import (
    CreatedRequest,
    Discovery,
    Service,
    ServiceAttribute,
    ServiceDefinition,
    ServiceRequest,
)
from geo_service.settings import MediaSettings
from geo_service.store import gazetteer as gazetteer_store
from geo_service.store import incidents as store
from geo_service.store.gazetteer import GazetteerEntry
from geo_service.store.incidents import Contact, IncidentRow

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_WINDOW = timedelta(days=90)
MAX_ATTRIBUTE_CHARS = 1000
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
_COMPONENT_ID = re.compile(r"^\d{16}$")
COMPONENT_ID = Attribute(
    code="component_id",
    datatype="string",
    required=False,
    description="部件编码：部件上喷涂或登记的编码（如已知）",
    description_en="Component code painted on or registered for the component, if known",
)


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
        raise NotFound(
            "open311.jurisdiction_not_found", jurisdiction_id=repr(jurisdiction_id), expected=expected
        )


def attributes_of(category: Category) -> tuple[Attribute, ...]:
    """What a caller may (or must) say about a report of ``category``: the component code for components,
    then the class's own questions from the classification file."""
    return ((COMPONENT_ID,) if category.kind == "component" else ()) + category.attributes


def _zh(language: str) -> bool:
    return language != "en"


def _attribute_document(attribute: Attribute, order: int, language: str) -> ServiceAttribute:
    zh = _zh(language)
    described = {
        "string": message("open311.datatype.component_id") if attribute is COMPONENT_ID else None,
        "singlevaluelist": message("open311.datatype.single"),
        "multivaluelist": message("open311.datatype.multi"),
    }.get(attribute.datatype)
    return {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": described.render(language) if described else None,
        "order": order,
        "description": attribute.description if zh else attribute.description_en,
        "values": [{"key": key, "name": name if zh else name_en} for key, name, name_en in attribute.values],
    }


def _deadline_notice(category: Category) -> Message:
    return message("open311.service_notice", hours=f"{category.deadline_hours['grid']:g}")


def service_list(ctx: IncidentContext, language: str) -> list[Service]:
    """Every minor class (the ones callers report) and every major class that has no minor classes, named in
    ``language`` (zh-CN: the Chinese names; en: the English ones)."""
    zh = _zh(language)
    majors_with_children = {c.major_code for c in ctx.classification if not c.is_major}
    out: list[Service] = []
    for category in ctx.classification:
        if category.is_major and category.code in majors_with_children:
            continue
        major = ctx.classification.get(category.major_code) or category
        name, group = (category.name, major.name) if zh else (category.name_en, major.name_en)
        out.append(
            {
                "service_code": category.code,
                "service_name": name,
                "description": message(
                    f"open311.service_description.{category.kind}",
                    name=name,
                    group=group,
                    service_code=category.code,
                ).render(language),
                "metadata": bool(attributes_of(category)),
                "type": "realtime",
                "keywords": ", ".join(
                    dict.fromkeys([category.name, category.name_en, major.name, major.name_en])
                ),
                "group": group,
            }
        )
    return out


def _category(ctx: IncidentContext, code: str | None) -> Category:
    if not code:
        raise BadRequest("open311.service_code_missing")
    found = ctx.classification.get(code.strip())
    if found is None:
        raise NotFound("open311.service_code_not_found", service_code=repr(code))
    return found


def service_definition(ctx: IncidentContext, code: str, language: str) -> ServiceDefinition:
    category = _category(ctx, code)
    return {
        "service_code": category.code,
        "attributes": [
            _attribute_document(a, i + 1, language) for i, a in enumerate(attributes_of(category))
        ],
    }


def _api_principal(ctx: IncidentContext, api_key: str | None) -> Principal:
    if not api_key:
        raise Forbidden("open311.api_key_missing")
    principal = authenticate(ctx.db, api_key.strip())
    if principal is None:
        raise Forbidden("open311.api_key_invalid")
    if not principal.has_role("dispatcher"):
        raise Forbidden("open311.api_key_role", role=message(f"role.{principal.role}"))
    return principal


def _float(form: dict[str, list[str]], key: str) -> float | None:
    value = (form.get(key) or [""])[0].strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest("open311.not_a_number", field=key, value=repr(value)) from None


def _one(form: dict[str, list[str]], key: str) -> str | None:
    value = (form.get(key) or [""])[0].strip()
    return value or None


# a service's attributes are the category's own (GeoReport v2 ``attribute[code]``): open by design
def parse_attributes(form: dict[str, list[str]]) -> dict[str, Any]:
    """``attribute[code]=v`` → ``{code: v}``; ``attribute[code][]=a&attribute[code][]=b`` → ``{code: [a, b]}``."""
    out: dict[str, Any] = {}
    for key, values in form.items():
        match = _ATTRIBUTE_KEY.match(key)
        if match:
            out[match.group(1)] = list(values) if match.group(2) else values[-1]
    return out


def check_attributes(category: Category, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against the service definition: known codes, required ones present, values of the
    right type and from the allowed list. Returns the values to store (numbers as numbers, lists as lists).

    Raises
    ------
    BadRequest
        The first problem found (Open311 answers one error document per request).
    """
    defined = {a.code: a for a in attributes_of(category)}
    unknown = sorted(set(given) - set(defined))
    if unknown:
        raise BadRequest(
            "open311.attribute_unknown",
            codes=unknown,
            service_code=category.code,
            known=sorted(defined) or ["—"],
        )
    out: dict[str, Any] = {}
    for code, attribute in defined.items():
        value = given.get(code)
        values = [v.strip() for v in (value if isinstance(value, list) else [value]) if v is not None]
        values = [v for v in values if v]
        if not values:
            if attribute.required:
                raise BadRequest("open311.attribute_required", code=code, service_code=category.code)
            continue
        out[code] = _attribute_value(attribute, values)
    return out


def _attribute_value(attribute: Attribute, values: list[str]) -> Any:
    code = attribute.code
    if attribute.datatype == "multivaluelist":
        bad = [v for v in values if v not in attribute.keys]
        if bad:
            raise BadRequest("open311.attribute_value", code=code, value=bad, allowed=list(attribute.keys))
        return list(dict.fromkeys(values))
    if len(values) > 1:
        raise BadRequest("open311.attribute_single", code=code)
    value = values[0]
    if len(value) > MAX_ATTRIBUTE_CHARS:
        raise BadRequest("open311.attribute_too_long", code=code, max_chars=MAX_ATTRIBUTE_CHARS)
    if attribute.datatype == "singlevaluelist" and value not in attribute.keys:
        raise BadRequest("open311.attribute_value", code=code, value=value, allowed=list(attribute.keys))
    if attribute.datatype == "number":
        try:
            return float(value)
        except ValueError:
            raise BadRequest("open311.not_a_number", field=f"attribute[{code}]", value=repr(value)) from None
    if attribute.datatype == "datetime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("open311.attribute_datetime", code=code, value=repr(value)) from None
    if attribute is COMPONENT_ID and not _COMPONENT_ID.match(value):
        raise BadRequest("open311.component_id", value=repr(value))
    return value


def create_request(
    ctx: IncidentContext,
    form: dict[str, list[str]],
    photos: Sequence[bytes] = (),
    media_settings: MediaSettings | None = None,
) -> list[CreatedRequest]:
    """POST requests: one incident from a form (and a photo, multipart ``media``); the answer is the one-element
    ``service_requests`` list.

    Raises
    ------
    Conflict
        ``address_string`` alone does not name one house number, building or POI with confidence (409, the
        candidates listed); the request is not created.
    PayloadTooLarge, UnsupportedMediaType, InvalidInput
        The photo is too large, not a photo, or damaged: the request is not created.
    """
    check_jurisdiction(ctx, _one(form, "jurisdiction_id"))
    principal = _api_principal(ctx, _one(form, "api_key"))
    category = _category(ctx, _one(form, "service_code"))
    lat, lon = _float(form, "lat"), _float(form, "long")
    address, address_id = _one(form, "address_string"), _one(form, "address_id")
    if (lat is None) != (lon is None):
        raise BadRequest("open311.lat_long_pair")
    if lat is None and address_id:
        point = _address_point(ctx, address_id)
        lon, lat = point["lon"], point["lat"]
        address = address or point["name"]
    if lat is None and not address:
        raise BadRequest("open311.location_required")
    attributes = check_attributes(category, parse_attributes(form))
    reporter = Contact(
        first_name=_one(form, "first_name"),
        last_name=_one(form, "last_name"),
        email=_one(form, "email"),
        phone=_one(form, "phone"),
        device_id=_one(form, "device_id"),
        account_id=_one(form, "account_id"),
    )
    data = IncidentInput(
        category=category.code,
        description=_one(form, "description"),
        lon=lon,
        lat=lat,
        crs="wgs84",
        address=address,
        reporter=reporter,
        media_url=_one(form, "media_url"),
        attributes=attributes,
    )
    cleaned = [clean(photo, media_settings or MediaSettings()) for photo in photos]
    # a request it cannot fulfil (outside every area, ...) is a 400 in Open311 (the router maps InvalidInput)
    result = create_incident(ctx, data, principal.actor, principal.role, source="open311", photos=cleaned)
    return [
        {
            "service_request_id": str(result.incident["id"]),
            "service_notice": _deadline_notice(category),
            "account_id": reporter["account_id"],
        }
    ]


def _address_point(ctx: IncidentContext, address_id: str) -> GazetteerEntry:
    if not address_id.isdigit():
        raise BadRequest("open311.address_id_format", address_id=repr(address_id))
    with ctx.db.cursor() as cur:
        found = gazetteer_store.entry(cur, int(address_id))
    if found is None:
        raise BadRequest("open311.address_id_unknown", address_id=address_id)
    return found


def parse_datetime(value: str, name: str, ctx: IncidentContext) -> datetime:
    """A w3 / ISO 8601 datetime; one without a zone is read in the service's zone."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("open311.bad_datetime", field=name, value=repr(value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ctx.timezone)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def find_requests(
    ctx: IncidentContext, query: RequestQuery, full: bool = False, base: str = ""
) -> list[ServiceRequest]:
    """GET requests: in full for a dispatcher (``full``), else the public form (see the module doc). ``base``:
    where the service is reached, for the links to photos."""
    ids = _split(query.service_request_id)
    limit = ctx.settings.open311_max_requests
    if ids:
        if not all(i.isdigit() for i in ids):
            raise BadRequest("open311.request_ids_format")
        with ctx.db.cursor() as cur:
            rows = store.list_incidents(cur, ids=[int(i) for i in ids], limit=limit)
        return _requests(ctx, rows, full, base)
    codes = [_category(ctx, code).code for code in _split(query.service_code)]
    wanted: list[str] = []
    for status in _split(query.status):
        if status not in ("open", "closed"):
            raise BadRequest("open311.bad_status", status=repr(status))
        wanted += states.statuses_for_open311(status)
    start = parse_datetime(query.start_date, "start_date", ctx) if query.start_date else None
    end = parse_datetime(query.end_date, "end_date", ctx) if query.end_date else None
    if start is None:
        if end is None:
            end = ctx.now()
        start = end - MAX_WINDOW
    elif end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise BadRequest("open311.window_reversed")
    if end - start > MAX_WINDOW:
        raise BadRequest("open311.window_too_long", days=MAX_WINDOW.days)
    with ctx.db.cursor() as cur:
        rows = store.list_incidents(
            cur,
            statuses=wanted or None,
            categories=codes or None,
            created_from=start,
            created_to=end,
            limit=limit,
        )
    return _requests(ctx, rows, full, base)


def get_request(
    ctx: IncidentContext, request_id: str, full: bool = False, base: str = ""
) -> list[ServiceRequest]:
    """GET requests/{id}: a one-element list (the spec's shape)."""
    if not request_id.isdigit():
        raise NotFound("open311.request_not_found", service_request_id=repr(request_id))
    with ctx.db.cursor() as cur:
        rows = store.list_incidents(cur, ids=[int(request_id)], limit=1)
    if not rows:
        raise NotFound("open311.request_not_found", service_request_id=request_id)
    return _requests(ctx, rows, full, base)


def agency_responsible(row: IncidentRow) -> str | None:
    """The name of the unit that owns an incident now: its grid, or the community, street or district it was
    escalated to (or that took it, 属地兜底), as named when the incident was assigned."""
    owner = next((a for a in row["area_snapshot"] or [] if a["code"] == row["owner_code"]), None)
    return owner["name"] if owner is not None else row["owner_code"]


def may_read_in_full(principal: Principal | None) -> bool:
    """Whether ``principal`` gets requests with their text, address, notes, photo and exact point."""
    return principal is not None and principal.has_role("dispatcher")


def api_key_principal(ctx: IncidentContext, api_key: str | None) -> Principal | None:
    """The caller behind an ``api_key`` query argument of a GET (None without one); 403 for an invalid key."""
    if not api_key:
        return None
    principal = authenticate(ctx.db, api_key.strip())
    if principal is None:
        raise Forbidden("open311.api_key_rejected")
    return principal


def public_point(lon: float, lat: float, resolution: int) -> tuple[float, float]:
    """The centre of the H3 cell holding ``lon``/``lat`` (WGS-84 degrees): where anyone may see a request."""
    cell_lat, cell_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, resolution))
    return round(cell_lon, 6), round(cell_lat, 6)


def _requests(
    ctx: IncidentContext, rows: list[IncidentRow], full: bool, base: str = ""
) -> list[ServiceRequest]:
    """Requests as the spec shows them (the public form unless ``full``); ``status_notes`` and
    ``service_notice`` are messages (rendered in the reader's language by the HTTP layer), ``service_name`` is
    the category's Chinese name (the router swaps in the English one for ``en``). In full, ``media_url`` is the
    link to the request's first photo (read with the same token) or the link the reporter gave."""
    with ctx.db.cursor() as cur:
        latest = store.latest_notes(cur, [row["id"] for row in rows]) if rows and full else {}
    photos = first_photo_urls(ctx, [row["id"] for row in rows], base) if rows and full else {}
    out: list[ServiceRequest] = []
    for row in rows:
        category = ctx.classification.get(row["category"])
        lon, lat = (
            (round(row["lon"], 7), round(row["lat"], 7))
            if full
            else public_point(row["lon"], row["lat"], ctx.settings.public_h3_resolution)
        )
        out.append(
            {
                "service_request_id": str(row["id"]),
                "status": states.open311_status(row["status"]),
                "status_notes": notes.readable(latest.get(row["id"])),
                "service_name": category.name if category else row["category"],
                "service_code": row["category"],
                "description": row["description"] if full else None,
                "agency_responsible": agency_responsible(row),
                "service_notice": _deadline_notice(category) if category else None,
                "requested_datetime": ctx.local(row["created_at"]),
                "updated_datetime": ctx.local(row["closed_at"] or row["updated_at"]),
                "expected_datetime": ctx.local(row["due_at"]) if row["status"] in states.ACTIVE else None,
                "address": row["address"] if full else None,
                "address_id": None,
                "zipcode": None,
                "lat": lat,
                "long": lon,
                "media_url": photos.get(row["id"], row["media_url"]) if full else None,
            }
        )
    return out


def localise_service_names(ctx: IncidentContext, requests: list[ServiceRequest], language: str) -> None:
    """``service_name`` in ``language`` (the classification has Chinese and English names)."""
    if _zh(language):
        return
    for request in requests:
        category = ctx.classification.get(request["service_code"])
        if category is not None:
            request["service_name"] = category.name_en


def changeset(ctx: IncidentContext) -> str:
    """When what this endpoint serves last changed: the classification file (the services) or any request,
    whichever is later (ISO 8601 in the service's zone)."""
    path = ctx.settings.categories or BUNDLED_FILE
    moments = [datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)]
    with ctx.db.cursor() as cur:
        latest = store.latest_change(cur)
    if latest is not None:
        moments.append(latest)
    return ctx.local(max(moments)) or ""


def discovery(ctx: IncidentContext, base_url: str) -> Discovery:
    """The Open311 service discovery document (``contact`` and ``key_service`` are messages)."""
    changed = changeset(ctx)
    return {
        "changeset": changed,
        "contact": message("open311.discovery_contact"),
        "key_service": message("open311.discovery_key_service"),
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": base_url,
                "changeset": changed,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
