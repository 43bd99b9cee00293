"""Siting: where new sites (rest stations, service points) serve the most people on foot.

``site(db, request)`` resolves the inputs, measures walking catchments on the street network and solves
the chosen model (:mod:`geo_service.siting.solver`: MCLP, LSCP or p-median with HiGHS).

Defaults (any of the three lists may be given instead)

- *candidates*: facilities whose category is in ``GEO_SERVICE_SITING_CANDIDATE_CATEGORIES`` (community /
  service centres by default), id ``"facility:<id>"``;
- *demand*: every residence, weight = households (reported, else estimated);
- *fixed*: every rest station (table ``stations``), id ``"station:<id>"``. ``"fixed": []`` means none.

Fixed sites are never chosen again. A candidate that *is* a fixed site — the same id (compared as text),
or within ``GEO_SERVICE_SITING_SAME_SITE_M`` metres of one — is excluded before solving and listed in
``excluded_candidates``; ``k`` is checked against the candidates that remain.

Catchments: one bounded network search per site (``travel_matrix`` from the sites to the demand points,
cut off at ``minutes``). The walking network is undirected, so a walk from a site to a home takes as long
as the walk back. Points farther than 300 m from the network get no walks: demand there counts in
``total_weight`` and ``uncoverable_weight``, sites there cover nothing; both are counted in ``unsnapped``.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from scipy.spatial import cKDTree

from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.grids.geometry import metres_per_degree
from geo_service.settings import SitingSettings, siting_settings, walking_settings
from geo_service.siting import solver
from geo_service.siting.model import ChosenSite, Site, SiteIn, SitingRequest, SitingResult
from geo_service.store import siting as store
from geo_service.walking.service import travel_matrix


class Demand:
    """Demand points: WGS-84 lon/lat degrees and non-negative weights, as arrays of one length."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray, weight: np.ndarray) -> None:
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.weight = np.asarray(weight, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.weight)


def _given_sites(sites: list[SiteIn]) -> list[Site]:
    return [Site(s.id, s.lon, s.lat, s.name) for s in sites]


def _check_request(request: SitingRequest, settings: SitingSettings) -> None:
    """Limits from settings, checked before anything is read or computed."""
    if request.minutes > settings.max_minutes:
        raise InvalidInput(
            f"minutes={request.minutes:g} is more than the limit of {settings.max_minutes:g} "
            "(GEO_SERVICE_SITING_MAX_MINUTES)"
        )
    if request.time_limit_s is not None and request.time_limit_s > settings.max_time_limit_s:
        raise InvalidInput(
            f"time_limit_s={request.time_limit_s:g} is more than the limit of {settings.max_time_limit_s:g} s "
            "(GEO_SERVICE_SITING_MAX_TIME_LIMIT_S)"
        )
    for name, given in (
        ("demand", request.demand),
        ("candidates", request.candidates),
        ("fixed", request.fixed),
    ):
        if given is not None:
            _check_count(name, len(given), settings)
    if request.demand is not None and not request.demand:
        raise InvalidInput(
            "demand is empty: give at least one {lon, lat, weight} point, or leave demand out to use the residences"
        )
    for name, sites in (("candidates", request.candidates), ("fixed", request.fixed)):
        repeated = sorted(i for i, n in Counter(str(s.id) for s in sites or ()).items() if n > 1)
        if repeated:
            raise InvalidInput(f"{name}: ids must be unique; repeated: {', '.join(repeated[:10])}")


_LIMITS = {"demand": ("demand points", "max_demand"), "candidates": ("candidate sites", "max_candidates"),
           "fixed": ("fixed sites", "max_fixed")}  # fmt: skip


def _check_count(name: str, count: int, settings: SitingSettings) -> None:
    label, setting = _LIMITS[name]
    limit = getattr(settings, setting)
    if count > limit:
        raise InvalidInput(
            f"too many {label}: {count:,}, the limit is {limit:,} (GEO_SERVICE_SITING_{setting.upper()})"
        )


def _inputs(
    db: Database, request: SitingRequest, settings: SitingSettings
) -> tuple[list[Site], Demand, list[Site], dict[str, str]]:
    """Candidates, demand and fixed sites: the request's, or the defaults from the database."""
    sources = {"candidates": "request", "demand": "request", "fixed": "request"}
    with db.cursor(dict_rows=False) as cur:
        if request.candidates is None:
            categories = list(settings.candidate_categories)
            candidates = [
                Site(f"facility:{i}", lon, lat, name, category)
                for i, name, category, lon, lat in store.candidate_facilities(cur, categories)
            ]
            sources["candidates"] = f"facilities ({', '.join(categories)})"
            _check_count("candidates", len(candidates), settings)
        else:
            candidates = _given_sites(request.candidates)
        if request.demand is None:
            _ids, lon, lat, households = store.residences(cur)
            demand = Demand(lon, lat, households)
            sources["demand"] = "residences (households)"
            if not len(demand):
                raise InvalidInput("there are no residences to use as demand: import a city or pass demand")
            _check_count("demand", len(demand), settings)
        else:
            demand = Demand(
                *(np.array([getattr(d, a) for d in request.demand]) for a in ("lon", "lat", "weight"))
            )
        if request.fixed is None:
            fixed = [
                Site(f"station:{i}", lon, lat, name, kind) for i, name, kind, lon, lat in store.stations(cur)
            ]
            sources["fixed"] = "stations"
            _check_count("fixed", len(fixed), settings)
        else:
            fixed = _given_sites(request.fixed)
    return candidates, demand, fixed, sources


def _metric(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    kx, ky = metres_per_degree(lat0)
    return np.column_stack([np.asarray(lon) * kx, np.asarray(lat) * ky])


def exclude_fixed(
    candidates: list[Site], fixed: list[Site], same_site_m: float
) -> tuple[list[Site], list[Site]]:
    """(kept, excluded): candidates that share an id with a fixed site, or lie within ``same_site_m``
    metres of one, are that site and are excluded."""
    if not candidates or not fixed:
        return candidates, []
    fixed_ids = {str(f.id) for f in fixed}
    lat0 = float(np.mean([f.lat for f in fixed]))
    tree = cKDTree(_metric(np.array([f.lon for f in fixed]), np.array([f.lat for f in fixed]), lat0))
    cand_xy = _metric(np.array([c.lon for c in candidates]), np.array([c.lat for c in candidates]), lat0)
    distance_m, _ = tree.query(cand_xy, distance_upper_bound=np.nextafter(same_site_m, np.inf))
    same = np.isfinite(distance_m) | np.array([str(c.id) in fixed_ids for c in candidates])
    return [c for c, s in zip(candidates, same, strict=True) if not s], [
        c for c, s in zip(candidates, same, strict=True) if s
    ]


def _check_k(request: SitingRequest, candidates: list[Site], excluded: list[Site]) -> None:
    if request.k is None or request.method == "lscp" or request.k <= len(candidates):
        return
    note = f" ({len(excluded)} more coincide with fixed sites and are excluded)" if excluded else ""
    raise InvalidInput(
        f"k={request.k} is more than the {len(candidates)} candidates{note}: choose k ≤ {len(candidates)}"
    )


def catchments(
    db: Database, candidates: list[Site], fixed: list[Site], demand: Demand, minutes: float, speed_kmh: float
) -> tuple[solver.Catchments, dict[str, int]]:
    """Walking catchments of every site (candidates first, then fixed) over the demand, and how many points
    of each kind lie off the network. Sites go to ``travel_matrix`` in chunks that respect the walking
    engine's per-matrix pair limit (``GEO_SERVICE_WALK_MATRIX_MAX_PAIRS``); the searches are per site anyway."""
    sites = np.array([[s.lon, s.lat] for s in candidates + fixed], dtype=np.float64).reshape(-1, 2)
    targets = np.column_stack([demand.lon, demand.lat])
    cutoff_s = minutes * 60.0
    chunk = max(1, walking_settings().matrix_max_pairs // max(1, len(targets)))
    demand_idx, site_idx, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    site_ok, demand_ok = np.ones(len(sites), dtype=bool), np.ones(len(targets), dtype=bool)
    for start in range(0, len(sites), chunk):
        matrix = travel_matrix(
            db, sites[start : start + chunk], targets, max_seconds=cutoff_s, speed_kmh=speed_kmh
        )
        demand_idx.append(np.asarray(matrix.cols, dtype=np.int64))
        site_idx.append(np.asarray(matrix.rows, dtype=np.int64) + start)
        seconds.append(np.asarray(matrix.seconds, dtype=np.float64))
        site_ok[start : start + chunk] = matrix.source_snapped
        demand_ok = np.asarray(matrix.target_snapped, dtype=bool)
    unsnapped = {
        "demand": int((~demand_ok).sum()),
        "candidates": int((~site_ok[: len(candidates)]).sum()),
        "fixed": int((~site_ok[len(candidates) :]).sum()),
    }
    instance = solver.Catchments.from_pairs(
        demand.weight, len(candidates), len(fixed), np.concatenate(demand_idx), np.concatenate(site_idx),
        np.concatenate(seconds), cutoff_s,
    )  # fmt: skip
    return instance, unsnapped


def site(db: Database, request: SitingRequest, settings: SitingSettings | None = None) -> SitingResult:
    """Choose new sites for ``request`` (see the module docstring for defaults and rules; the solver's for
    the models). Raises :class:`InvalidInput` (422) naming the problem for bad or oversized input."""
    settings = settings or siting_settings()
    began = time.perf_counter()
    _check_request(request, settings)
    candidates, demand, fixed, sources = _inputs(db, request, settings)
    candidates, excluded = exclude_fixed(candidates, fixed, settings.same_site_m)
    _check_k(request, candidates, excluded)
    if float(demand.weight.sum()) <= 0:
        raise InvalidInput("every demand weight is 0: there is nobody to serve")
    read = time.perf_counter()
    instance, unsnapped = catchments(db, candidates, fixed, demand, request.minutes, request.speed_kmh)
    walked = time.perf_counter()
    options = solver.SolveOptions(
        time_limit_s=request.time_limit_s or settings.time_limit_s,
        mip_rel_gap=settings.mip_rel_gap,
        reduction_work_limit=settings.reduction_work_limit,
        unserved_factor=settings.unserved_factor,
    )
    solution = solver.solve(instance, request.method, request.k, options)
    evaluation = solver.evaluate(instance, solution.chosen)
    chosen = [
        ChosenSite(candidates[j], float(evaluation.site_weight[n]), float(evaluation.site_new_weight[n]))
        for n, j in enumerate(solution.chosen)
    ]
    return SitingResult(
        method=request.method,
        k=request.k,
        minutes=request.minutes,
        speed_kmh=request.speed_kmh,
        chosen=chosen,
        covered_weight=evaluation.covered_weight,
        total_weight=evaluation.total_weight,
        covered_weight_before=evaluation.covered_weight_before,
        uncoverable_weight=evaluation.uncoverable_weight,
        optimal=solution.optimal,
        gap=solution.gap,
        objective=solution.objective,
        walk_seconds_mean=evaluation.walk_seconds_mean,
        status=solution.status,
        sources=sources,
        counts={"demand": len(demand), "candidates": len(candidates), "fixed": len(fixed)},
        excluded_candidates=[c.id for c in excluded],
        unsnapped=unsnapped,
        model=solution.model,
        timings_s={
            "inputs": read - began,
            "travel_matrix": walked - read,
            "model_build": solution.build_seconds,
            "solve": solution.solve_seconds,
            "total": time.perf_counter() - began,
        },
    )
