"""The siting MILPs against brute force: every k-subset of candidates enumerated on small random instances.

The instances are built so that the reductions have work to do: repeated demand points (identical rows),
duplicated and nested candidates (dominated columns), demand outside every catchment (uncoverable),
candidates sharing their place with a fixed site, zero weights and tied walking times.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from geo_service.siting.solver import Catchments, SolveOptions, evaluate, solve

CUTOFF_S = 600.0


@dataclass
class Dense:
    """An instance as a dense demand × site matrix (inf = beyond the cutoff), for brute force."""

    seconds: np.ndarray  # (n, m + f)
    weights: np.ndarray
    m: int
    f: int


def random_instance(seed: int, n: int = 30, m: int = 9, f: int = 2) -> tuple[Dense, Catchments]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 1500, (n, 2))
    demand[n // 2 : n // 2 + 5] = demand[0]  # identical rows
    sites = rng.uniform(0, 1500, (m + f, 2))
    sites[1] = sites[0]  # twin candidates
    if f:
        sites[2] = sites[m]  # a candidate on a fixed site
    weights = rng.integers(0, 40, n).astype(float)
    weights[3] = 0.0
    seconds = np.round(np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) / 1.25)
    seconds[seconds > CUTOFF_S] = np.inf
    seconds[-1, :] = np.inf  # nobody reaches the last point
    rows, cols = np.nonzero(np.isfinite(seconds))
    catchments = Catchments.from_pairs(weights, m, f, rows, cols, seconds[rows, cols], CUTOFF_S)
    return Dense(seconds, weights, m, f), catchments


def open_seconds(d: Dense, subset: tuple[int, ...]) -> np.ndarray:
    columns = list(subset) + list(range(d.m, d.m + d.f))
    if not columns:
        return np.full(len(d.weights), np.inf)
    return d.seconds[:, columns].min(axis=1)


def covered(d: Dense, subset: tuple[int, ...]) -> float:
    return float(d.weights[np.isfinite(open_seconds(d, subset))].sum())


def pmedian_cost(d: Dense, subset: tuple[int, ...], penalty_s: float) -> float:
    return float(np.dot(d.weights, np.minimum(open_seconds(d, subset), penalty_s)))


def brute_mclp(d: Dense, k: int) -> float:
    return max(covered(d, s) for s in itertools.combinations(range(d.m), k))


def brute_pmedian(d: Dense, k: int, penalty_s: float) -> float:
    return min(pmedian_cost(d, s, penalty_s) for s in itertools.combinations(range(d.m), k))


def brute_lscp(d: Dense) -> int:
    coverable = np.isfinite(d.seconds).any(axis=1) & (d.weights > 0)
    for size in range(d.m + 1):
        for s in itertools.combinations(range(d.m), size):
            if np.isfinite(open_seconds(d, s))[coverable].all():
                return size
    raise AssertionError("a cover always exists")


SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_mclp_matches_brute_force(seed: int, k: int) -> None:
    d, c = random_instance(seed)
    solution = solve(c, "mclp", k)
    assert solution.optimal
    assert len(solution.chosen) <= k
    assert solution.objective == pytest.approx(brute_mclp(d, k), abs=1e-9)
    assert covered(d, tuple(solution.chosen)) == pytest.approx(solution.objective, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("unserved_factor", [1.0, 2.5])
def test_pmedian_matches_brute_force(seed: int, k: int, unserved_factor: float) -> None:
    d, c = random_instance(seed)
    penalty = unserved_factor * CUTOFF_S
    solution = solve(c, "p-median", k, SolveOptions(unserved_factor=unserved_factor))
    assert solution.optimal
    assert solution.objective == pytest.approx(brute_pmedian(d, k, penalty), rel=1e-9)
    assert pmedian_cost(d, tuple(solution.chosen), penalty) == pytest.approx(solution.objective, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("f", [0, 2])
def test_lscp_matches_brute_force_and_covers_everything_coverable(seed: int, f: int) -> None:
    d, c = random_instance(seed, f=f)
    solution = solve(c, "lscp", None)
    assert solution.optimal
    assert len(solution.chosen) == solution.objective == brute_lscp(d)
    reached = np.isfinite(open_seconds(d, tuple(solution.chosen)))
    coverable = np.isfinite(d.seconds).any(axis=1)
    assert reached[coverable & (d.weights > 0)].all()
    e = evaluate(c, solution.chosen)
    assert e.covered_weight + e.uncoverable_weight == pytest.approx(e.total_weight)
    assert e.uncoverable_weight >= d.weights[-1]  # the unreachable point is reported, not covered


@pytest.mark.parametrize("seed", SEEDS)
def test_larger_instances_match_brute_force(seed: int) -> None:
    """More candidates than the dominance and merge shortcuts can explain away (12 choose 4 subsets)."""
    d, c = random_instance(100 + seed, n=80, m=12, f=1)
    assert solve(c, "mclp", 4).objective == pytest.approx(brute_mclp(d, 4), abs=1e-9)
    assert solve(c, "p-median", 4).objective == pytest.approx(brute_pmedian(d, 4, CUTOFF_S), rel=1e-9)
    assert solve(c, "lscp", None).objective == brute_lscp(d)


def test_reductions_shrink_the_model_and_fixed_sites_count_before() -> None:
    d, c = random_instance(3, n=60, m=9, f=2)
    solution = solve(c, "mclp", 2)
    sizes = solution.model
    assert sizes["rows_merged"] < sizes["rows_active"]  # the five copies of point 0 became one row
    assert sizes["candidates_model"] < sizes["candidates"]  # twin candidates: one is dominated
    e = evaluate(c, solution.chosen)
    fixed_only = covered(d, ())
    assert e.covered_weight_before == pytest.approx(fixed_only)
    assert e.covered_weight == pytest.approx(solution.objective)
    assert e.covered_weight >= e.covered_weight_before


def test_k_beyond_useful_sites_proposes_only_useful_ones() -> None:
    d, c = random_instance(5)
    full = solve(c, "mclp", 9)
    assert full.objective == pytest.approx(covered(d, tuple(range(9))))
    lscp = solve(c, "lscp", None)
    assert len(full.chosen) <= 9
    # every proposed site adds coverage that the others and the fixed sites do not give
    for j in full.chosen:
        others = tuple(x for x in full.chosen if x != j)
        assert covered(d, others) < full.objective
    assert full.objective == pytest.approx(covered(d, tuple(lscp.chosen)))


def test_catchments_normalise_pairs() -> None:
    c = Catchments.from_pairs(
        np.array([1.0, 2.0]),
        2,
        0,
        np.array([1, 0, 0, 1, 1]),
        np.array([0, 1, 1, 1, 0]),
        np.array([5.0, 7.0, 3.0, np.nan, 900.0]),
        600.0,
    )
    assert c.demand.tolist() == [0, 1] and c.site.tolist() == [1, 0] and c.seconds.tolist() == [3.0, 5.0]
    with pytest.raises(ValueError):
        Catchments.from_pairs(np.array([1.0]), 1, 0, np.array([0]), np.array([3]), np.array([1.0]), 600.0)
    with pytest.raises(ValueError):
        Catchments.from_pairs(np.array([-1.0]), 1, 0, np.array([0]), np.array([0]), np.array([1.0]), 600.0)


def test_time_limit_still_answers_with_its_gap() -> None:
    """A limit far too short to prove anything: the answer is the warm start, feasible, flagged not optimal."""
    rng = np.random.default_rng(11)
    demand, sites = rng.uniform(0, 5000, (3000, 2)), rng.uniform(0, 5000, (300, 2))
    seconds = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) / 1.25
    rows, cols = np.nonzero(seconds <= CUTOFF_S)
    weights = rng.integers(1, 50, 3000).astype(float)
    c = Catchments.from_pairs(weights, 300, 0, rows, cols, seconds[rows, cols], CUTOFF_S)
    quick = solve(c, "mclp", 15, SolveOptions(time_limit_s=1e-3))
    assert not quick.optimal and quick.status != "Optimal"
    assert quick.gap is None or quick.gap > 0
    assert 0 < len(quick.chosen) <= 15
    assert evaluate(c, quick.chosen).covered_weight == pytest.approx(quick.objective)
    assert 0 < quick.objective <= weights.sum()
