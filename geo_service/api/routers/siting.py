"""Siting over HTTP: choose new sites (MCLP, LSCP, p-median) on walking catchments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from geo_service.api.deps import get_db, require_role
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.siting import service
from geo_service.siting.model import SitingRequest

router = APIRouter(prefix="/api", tags=["siting"])


@router.post("/siting")
def siting(
    request: SitingRequest,
    db: Database = Depends(get_db),
    _principal: Principal = Depends(require_role("planner")),
) -> dict[str, Any]:
    """(Planner.) Where to open new sites so that the most people reach one on foot within ``minutes``.

    ``method``: ``mclp`` (at most ``k`` new sites covering the most demand), ``lscp`` (fewest new sites
    covering every demand point some site can reach), ``p-median`` (at most ``k`` new sites minimising the
    weighted walk). Omitted ``candidates`` are community/service-centre facilities, omitted ``demand`` the
    residences weighted by households, omitted ``fixed`` the existing rest stations. The answer says
    whether the solver proved the choice optimal and, if not, the MIP gap."""
    return service.site(db, request).as_dict()
