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

Time limit: ``time_limit_s`` (else ``GEO_SERVICE_SITING_TIME_LIMIT_S``) bounds the whole request, wall
clock: reading the inputs, the walking catchments (measured in chunks, the deadline checked between them)
and the solver, which gets what is left. Past it with the catchments measured, the best answer found so far
comes back with ``optimal: false`` and its gap; before they are measured there is no answer yet: 503
``siting.time_limit``.

Catchments: one bounded network search per site (``travel_matrix`` from the sites to the demand points,
cut off at ``minutes``). The walking network is undirected, so a walk from a site to a home takes as long
as the walk back. Points farther than 300 m from the network get no walks: demand there counts in
``total_weight`` and ``uncoverable_weight``, sites there cover nothing; both are counted in ``unsnapped``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from geo_service.crs import metres_per_degree
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, ServiceUnavailable
from geo_service.i18n import message
from geo_service.settings import SitingSettings, WalkingSettings
from geo_service.siting import solver
from geo_service.siting.model import Choice, Site, SiteIn, SitingRequest, SitingResult
from geo_service.store import siting as store
from geo_service.walking import travel_matrix


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


Clock = Callable[[], float]
"""Seconds on a monotonic clock: the deadline's time source (tests pass their own)."""
# Catchments are measured in chunks of sites sized to take about this long, so the deadline is looked at
# that often (and one chunk is all a request can run past it).
_CHUNK_SECONDS = 0.2


def _check_request(request: SitingRequest, settings: SitingSettings) -> None:
    """Limits from settings, checked before anything is read or computed."""
    if request.minutes > settings.max_minutes:
        raise InvalidInput(
            "siting.minutes_limit", minutes=f"{request.minutes:g}", limit=f"{settings.max_minutes:g}"
        )
    if request.time_limit_s is not None and request.time_limit_s > settings.max_time_limit_s:
        raise InvalidInput(
            "siting.time_limit_limit",
            time_limit_s=f"{request.time_limit_s:g}",
            limit=f"{settings.max_time_limit_s:g}",
        )
    for name, given in (
        ("demand", request.demand),
        ("candidates", request.candidates),
        ("fixed", request.fixed),
    ):
        if given is not None:
            _check_count(name, len(given), settings)
    if request.demand is not None and not request.demand:
        raise InvalidInput("siting.demand_empty")
    for name, sites in (("candidates", request.candidates), ("fixed", request.fixed)):
        repeated = sorted(i for i, n in Counter(str(s.id) for s in sites or ()).items() if n > 1)
        if repeated:
            raise InvalidInput("siting.repeated_ids", field=name, ids=repeated[:10])


_LIMITS = {
    "demand": (message("siting.what.demand"), "max_demand"),
    "candidates": (message("siting.what.candidates"), "max_candidates"),
    "fixed": (message("siting.what.fixed"), "max_fixed"),
}


def _check_count(name: str, count: int, settings: SitingSettings) -> None:
    what, setting = _LIMITS[name]
    limit = getattr(settings, setting)
    if count > limit:
        raise InvalidInput(
            "siting.too_many",
            what=what,
            count=f"{count:,}",
            limit=f"{limit:,}",
            setting=f"GEO_SERVICE_SITING_{setting.upper()}",
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
                raise InvalidInput("siting.no_residences")
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
    from scipy.spatial import cKDTree  # imported by the first solve, not at start

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
    if excluded:
        raise InvalidInput(
            "siting.k_too_large.excluded", k=request.k, candidates=len(candidates), excluded=len(excluded)
        )
    raise InvalidInput("siting.k_too_large", k=request.k, candidates=len(candidates))


def catchments(
    db: Database,
    candidates: list[Site],
    fixed: list[Site],
    demand: Demand,
    minutes: float,
    speed_kmh: float,
    deadline: float = np.inf,
    clock: Clock = time.monotonic,
    walking: WalkingSettings | None = None,
) -> tuple[solver.Catchments, dict[str, int]]:
    """Walking catchments of every site (candidates first, then fixed) over the demand, and how many points
    of each kind lie off the network. Sites go to ``travel_matrix`` in chunks that respect the walking
    engine's per-matrix pair limit (``GEO_SERVICE_WALK_MATRIX_MAX_PAIRS``) and take about
    :data:`_CHUNK_SECONDS` each; the searches are per site anyway.

    Raises
    ------
    ServiceUnavailable
        ``siting.time_limit``: ``clock()`` passed ``deadline`` before every catchment was measured.
    """
    sites = np.array([[s.lon, s.lat] for s in candidates + fixed], dtype=np.float64).reshape(-1, 2)
    targets = np.column_stack([demand.lon, demand.lat])
    cutoff_s = minutes * 60.0
    walking = walking or WalkingSettings()
    most = max(1, walking.matrix_max_pairs // max(1, len(targets)))
    demand_idx, site_idx, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    site_ok, demand_ok = np.ones(len(sites), dtype=bool), np.ones(len(targets), dtype=bool)
    start, chunk = 0, min(most, 4)
    while start < len(sites):
        if clock() >= deadline:
            raise ServiceUnavailable("siting.time_limit", measured=start, sites=len(sites))
        began = clock()
        matrix = travel_matrix(
            db,
            sites[start : start + chunk],
            targets,
            max_seconds=cutoff_s,
            speed_kmh=speed_kmh,
            settings=walking,
        )
        demand_idx.append(np.asarray(matrix.cols, dtype=np.int64))
        site_idx.append(np.asarray(matrix.rows, dtype=np.int64) + start)
        seconds.append(np.asarray(matrix.seconds, dtype=np.float64))
        site_ok[start : start + chunk] = matrix.source_snapped
        demand_ok = np.asarray(matrix.target_snapped, dtype=bool)
        start += chunk
        took = max(clock() - began, 1e-3)
        chunk = int(min(most, max(1, chunk * _CHUNK_SECONDS / took), 4 * chunk))
    unsnapped = {
        "demand": int((~demand_ok).sum()),
        "candidates": int((~site_ok[: len(candidates)]).sum()),
        "fixed": int((~site_ok[len(candidates) :]).sum()),
    }
    instance = solver.Catchments.from_pairs(
        demand.weight,
        len(candidates),
        len(fixed),
        np.concatenate(demand_idx),
        np.concatenate(site_idx),
        np.concatenate(seconds),
        cutoff_s,
    )
    return instance, unsnapped


def site(
    db: Database,
    request: SitingRequest,
    settings: SitingSettings | None = None,
    clock: Clock = time.monotonic,
    walking: WalkingSettings | None = None,
) -> SitingResult:
    """Choose new sites for ``request`` (see the module docstring for defaults, rules and the time limit; the
    solver's for the models). ``clock``: the monotonic seconds the deadline is kept on. ``settings`` and
    ``walking``: the ones :func:`~geo_service.api.app.create_app` read at start-up (from the environment when
    not given).

    Raises
    ------
    InvalidInput
        422 naming the problem for bad or oversized input.
    ServiceUnavailable
        503 ``siting.time_limit``: the time limit passed before the catchments were measured.
    """
    settings = settings or SitingSettings()
    began = clock()
    _check_request(request, settings)
    deadline = began + (request.time_limit_s or settings.time_limit_s)
    candidates, demand, fixed, sources = _inputs(db, request, settings)
    candidates, excluded = exclude_fixed(candidates, fixed, settings.same_site_m)
    _check_k(request, candidates, excluded)
    if float(demand.weight.sum()) <= 0:
        raise InvalidInput("siting.zero_weights")
    read = clock()
    instance, unsnapped = catchments(
        db,
        candidates,
        fixed,
        demand,
        request.minutes,
        request.speed_kmh,
        deadline=deadline,
        clock=clock,
        walking=walking,
    )
    walked = clock()
    options = solver.SolveOptions(
        time_limit_s=max(0.0, deadline - walked),
        mip_rel_gap=settings.mip_rel_gap,
        reduction_work_limit=settings.reduction_work_limit,
        unserved_factor=settings.unserved_factor,
    )
    solution = solver.solve(instance, request.method, request.k, options)
    evaluation = solver.evaluate(instance, solution.chosen)
    chosen = [
        Choice(candidates[j], float(evaluation.site_weight[n]), float(evaluation.site_new_weight[n]))
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
            "total": clock() - began,
        },
    )
