"""Facility location on sparse walking catchments: MCLP, LSCP and p-median as MILPs solved by HiGHS.

The instance (:class:`Catchments`) is ``n`` demand points with weights ``w_i ≥ 0`` (households), ``m``
candidate sites and ``f`` fixed (existing) sites, and one entry ``(i, j, t_ij)`` per demand/site pair whose
walk ``t_ij`` (seconds) is within the cutoff ``T``. Pairs beyond the cutoff are absent: the catchments are
sparse, and the models never see a dense demand × site matrix. Fixed sites are always open; the models
choose among candidates only, so a fixed site can never be chosen (again).

Models (``x_j ∈ {0, 1}``: candidate ``j`` is opened; ``N_i``: candidates within ``T`` of demand ``i``)

- **MCLP** — maximise covered weight with at most ``k`` new sites:
  ``max Σ w_i y_i`` s.t. ``y_i ≤ Σ_{j∈N_i} x_j``, ``Σ x_j ≤ k``, ``0 ≤ y_i ≤ 1``. ``y`` may be continuous:
  for integral ``x`` the optimum sets ``y_i = min(1, Σ x_j)`` anyway. The budget is "≤ k" rather than
  "= k" because covered weight never falls when a site is added, so both have the same optimum, and "≤"
  stays feasible after dominated candidates are dropped. Sites that add nothing are not proposed.
- **LSCP** — fewest new sites so that every demand point that some candidate or fixed site reaches
  within ``T`` is covered: ``min Σ x_j`` s.t. ``Σ_{j∈N_i} x_j ≥ 1``. Points no site reaches are
  *uncoverable*: no choice can cover them, so they are left out and reported (``uncoverable_weight``).
  ``k`` plays no part.
- **p-median** — minimise weighted walking time with at most ``k`` new sites beside the fixed ones.
  Demand is served by its nearest open site; a point with no open site within ``T`` is *unserved* and costs
  ``P = unserved_factor × T`` seconds (``unserved_factor ≥ 1``, default 1: walking time is capped at the
  cutoff, a truncated p-median). So each point's cost is ``min(c0_i, min_{open j} t_ij)`` where
  ``c0_i = min(P, nearest fixed site)`` is what it pays if no new site helps. Strong formulation:
  ``min Σ_i w_i c0_i + Σ_{(i,j)} w_i (t_ij − c0_i) z_ij`` s.t. ``Σ_j z_ij ≤ 1``, ``z_ij ≤ x_j``,
  ``Σ x_j ≤ k``, ``z ≥ 0`` (``1 − Σ_j z_ij`` is the share left at ``c0_i``). Demand that no site at all
  reaches within ``T`` costs ``P`` whatever is chosen (a constant) and is reported as uncoverable.

Reductions (each keeps the optimum value exactly; sizes before/after are in :class:`Solution.model`)

1. *Zero weights* are dropped (MCLP, p-median): they add nothing to the objective. LSCP keeps only points
   with positive weight too: a point nobody lives at is no demand.
2. *Covered by a fixed site* (MCLP, LSCP): ``y_i = 1`` / the constraint holds whatever ``x`` is, so the
   row is a constant. p-median: a new site farther than the nearest fixed site is never used by that point
   (it would raise its cost), so those pairs are dropped and the fixed site becomes the fallback ``c0_i``.
3. *No candidate pair left* (all methods): the row's value does not depend on ``x``; it becomes a constant
   (MCLP: uncovered; LSCP: uncoverable; p-median: ``w_i c0_i``).
4. *Identical rows merge*: two demand points with the same candidate set (and, for p-median, the same
   times and fallback) have identical constraints and cost vectors up to their weight, so in every optimum
   they take the same values; one row with the summed weight has the same objective for every ``x``.
   Rows are grouped by a 128-bit hash of their entries and every member is then compared entry by entry
   with its group's first row, so a hash collision can only cost a merge, never merge different rows.
5. *Dominated candidates are dropped*. MCLP, LSCP: if ``N(a) ⊆ N(b)`` (``N``: the demand a site covers),
   replacing ``a`` by ``b`` in any solution keeps it feasible (same count, "≤ k") and covers at least as
   much, so some optimum avoids ``a``. p-median: the same when additionally ``t_ib ≤ t_ia`` on ``N(a)`` —
   every point's nearest open site is no farther after the swap. Equal columns keep the lowest index, and
   the relation is transitive, so every dropped candidate has a kept dominator.
6. *Superset rows* (LSCP only): if ``N(i) ⊇ N(i')``, any cover of ``i'`` covers ``i``; row ``i`` goes.
   5 and 6 are repeated until nothing changes (a classic set-cover reduction loop); after each round
   rows are merged again, as rows that differed only in a dropped candidate are now identical.

Dominance tests use sparse products (``AᵀA`` / ``AAᵀ`` count shared rows/columns); they are skipped when
the product would cost more than ``reduction_work_limit`` multiply-adds, which only makes the model larger.
All construction is vectorised (numpy / scipy.sparse); no Python loop runs over matrix entries.

Warm start: a greedy solution (k rounds of "add the candidate with the largest gain") is passed to HiGHS,
so a time limit always leaves an answer. ``optimal`` is HiGHS's proof of optimality at the configured
``mip_rel_gap`` (0 by default: only HiGHS's absolute gap of 1e-6 remains); ``gap`` is its relative MIP
gap ``|primal − dual| / |primal|`` of the full objective (constants included).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # scipy.sparse and HiGHS are imported by the first solve, not when the service starts
    import scipy.sparse as sp

Method = Literal["mclp", "lscp", "p-median"]
METHODS: tuple[str, ...] = ("mclp", "lscp", "p-median")

_MIX1 = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)
_MIX3 = np.uint64(0x94D049BB133111EB)
_SEEDS = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344))
_MAX_REDUCTION_ROUNDS = 8
_FEASIBLE = 2  # HiGHS kSolutionStatusFeasible
_NO_TIME_S = 0.01  # less than this left for the solver: not worth starting HiGHS
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catchments:
    """Demand, sites and the walks between them within the cutoff.

    Attributes
    ----------
    weights
        ``(n,)`` float64 demand weights (households), all finite and ≥ 0.
    n_candidates, n_fixed
        Sites ``0 .. n_candidates-1`` are candidates; ``n_candidates .. n_candidates+n_fixed-1`` are fixed.
    demand, site, seconds
        One entry per reachable pair: demand index, site index, walking seconds (``0 ≤ seconds ≤ cutoff``),
        sorted by (demand, site), no duplicates. Build with :meth:`from_pairs`.
    cutoff_seconds
        The walking-time limit ``T`` of a catchment, seconds.
    """

    weights: np.ndarray
    n_candidates: int
    n_fixed: int
    demand: np.ndarray
    site: np.ndarray
    seconds: np.ndarray
    cutoff_seconds: float

    @property
    def n_demand(self) -> int:
        return len(self.weights)

    @property
    def n_sites(self) -> int:
        return self.n_candidates + self.n_fixed

    @classmethod
    def from_pairs(
        cls,
        weights: np.ndarray,
        n_candidates: int,
        n_fixed: int,
        demand: np.ndarray,
        site: np.ndarray,
        seconds: np.ndarray,
        cutoff_seconds: float,
    ) -> Catchments:
        """Normalise raw pairs: drop those beyond the cutoff (or not finite), keep the shortest walk of
        duplicate pairs, sort by (demand, site). Raises ValueError on out-of-range indices or bad weights."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        d = np.asarray(demand, dtype=np.int64)
        s = np.asarray(site, dtype=np.int64)
        t = np.asarray(seconds, dtype=np.float64)
        if not (d.shape == s.shape == t.shape and d.ndim == 1 and w.ndim == 1):
            raise ValueError("demand, site and seconds must be 1-D arrays of one length")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and ≥ 0")
        if not (math.isfinite(cutoff_seconds) and cutoff_seconds > 0):
            raise ValueError("cutoff_seconds must be a positive number")
        n, n_sites = len(w), n_candidates + n_fixed
        if len(d) and (d.min() < 0 or d.max() >= n or s.min() < 0 or s.max() >= n_sites):
            raise ValueError("a pair names a demand point or site that does not exist")
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(t) & (t <= cutoff_seconds)
        d, s, t = d[keep], s[keep], np.maximum(t[keep], 0.0)
        order = np.lexsort((t, s, d))
        d, s, t = d[order], s[order], t[order]
        first = _starts_of_runs(d * max(n_sites, 1) + s)
        return cls(w, int(n_candidates), int(n_fixed), d[first], s[first], t[first], float(cutoff_seconds))


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings. ``time_limit_s``: HiGHS wall-clock limit, seconds (none left: the greedy answer, not
    proven optimal, with its gap to a cheap bound); ``mip_rel_gap``: relative gap
    at which HiGHS stops and calls the answer optimal; ``reduction_work_limit``: largest sparse product
    (multiply-adds) a dominance test may cost; ``unserved_factor``: p-median cost of unserved demand as a
    multiple of the cutoff."""

    time_limit_s: float = 30.0
    mip_rel_gap: float = 0.0
    reduction_work_limit: int = 50_000_000
    unserved_factor: float = 1.0


@dataclass(frozen=True)
class Solution:
    """A solved instance.

    ``chosen``: candidate indices (ascending). ``objective``: the full objective of ``chosen`` — MCLP:
    covered weight (fixed sites' included); LSCP: number of new sites; p-median: ``Σ w_i · cost_i`` in
    weight × seconds, unserved and uncoverable demand at the penalty. ``optimal``: proven by HiGHS (or by a
    reduction that left nothing to decide). ``gap``: relative MIP gap (0 when nothing was left to solve;
    without a HiGHS bound, the gap to a bound computed without the solver). ``status``: HiGHS model status
    or how the reductions settled it. ``model``: sizes before and after the reductions. Times in seconds.
    """

    method: str
    chosen: np.ndarray
    objective: float
    optimal: bool
    gap: float | None
    status: str
    model: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0
    solve_seconds: float = 0.0


@dataclass(frozen=True)
class Evaluation:
    """What a set of open sites (fixed + chosen) achieves; weights in the demand's unit, times in seconds.

    ``covered_weight``: demand within the cutoff of an open site; ``covered_weight_before``: within the
    cutoff of a fixed site; ``uncoverable_weight``: demand no site (candidate or fixed) reaches;
    ``walk_seconds_mean``: weighted mean walk of covered demand to its nearest open site (None if none);
    ``site_weight``: per chosen site, the demand within its catchment; ``site_new_weight``: the part of it
    that no fixed site covers.
    """

    total_weight: float
    covered_weight: float
    covered_weight_before: float
    uncoverable_weight: float
    walk_seconds_mean: float | None
    site_weight: np.ndarray
    site_new_weight: np.ndarray


# --- sparse rows × candidates, kept as sorted COO ----------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    """Demand rows × candidate columns: entries sorted by (row, col); ``val`` walk seconds (or 0)."""

    n_rows: int
    n_cols: int
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray

    def indptr(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(np.bincount(self.row, minlength=self.n_rows))))

    def pattern(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        ones = np.ones(len(self.row), dtype=np.int32)
        return sp.csr_matrix((ones, self.col, self.indptr()), shape=(self.n_rows, self.n_cols))

    def row_degree(self) -> np.ndarray:
        return np.bincount(self.row, minlength=self.n_rows)

    def col_degree(self) -> np.ndarray:
        return np.bincount(self.col, minlength=self.n_cols)

    def by_column(self) -> tuple[np.ndarray, np.ndarray]:
        """Entry positions in column order, and where each column's run starts (CSC-style pointers)."""
        order = np.lexsort((self.row, self.col))
        return order, np.concatenate(([0], np.cumsum(self.col_degree())))

    def entries(self, keep: np.ndarray) -> _Rows:
        return _Rows(self.n_rows, self.n_cols, self.row[keep], self.col[keep], self.val[keep])

    def take_rows(self, keep: np.ndarray) -> _Rows:
        """Only rows where ``keep`` (bool, n_rows), renumbered in order."""
        new_index = np.cumsum(keep) - 1
        mask = keep[self.row]
        return _Rows(int(keep.sum()), self.n_cols, new_index[self.row[mask]], self.col[mask], self.val[mask])

    def take_cols(self, keep: np.ndarray) -> _Rows:
        """Only columns where ``keep`` (bool, n_cols), renumbered in order."""
        new_index = np.cumsum(keep) - 1
        mask = keep[self.col]
        return _Rows(self.n_rows, int(keep.sum()), self.row[mask], new_index[self.col[mask]], self.val[mask])


@dataclass
class _Reduced:
    """The part of the problem left for the MILP, and the constants the reductions took out."""

    rows: _Rows
    weights: np.ndarray
    fallback: np.ndarray  # per row: cost when no chosen candidate serves it (1 = uncovered for coverage)
    candidates: np.ndarray  # original candidate index of each column
    constant: float
    sizes: dict[str, int]


def _starts_of_runs(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a value differs from the one before (the first of each run of equal sorted keys)."""
    first = np.ones(len(sorted_keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return first


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + _MIX1
        x = (x ^ (x >> np.uint64(30))) * _MIX2
        x = (x ^ (x >> np.uint64(27))) * _MIX3
    return x ^ (x >> np.uint64(31))


def _row_hashes(rows: _Rows, row_key: np.ndarray, seed: np.uint64, with_values: bool) -> np.ndarray:
    """An order-independent 64-bit hash of each row's entries (columns, and values if asked) and its key."""
    entry = rows.col.astype(np.uint64) ^ seed
    if with_values:
        entry = entry ^ _splitmix(rows.val.view(np.uint64) ^ seed)
    with np.errstate(over="ignore"):
        sums = np.concatenate(([np.uint64(0)], np.cumsum(_splitmix(entry), dtype=np.uint64)))
        ptr = rows.indptr()
        per_row = sums[ptr[1:]] - sums[ptr[:-1]]  # wraps modulo 2**64 like the sums
    return _splitmix(per_row ^ _splitmix(row_key.view(np.uint64) ^ seed))


def _merge_identical_rows(
    rows: _Rows, weights: np.ndarray, fallback: np.ndarray, with_values: bool
) -> tuple[_Rows, np.ndarray, np.ndarray]:
    """One row per group of identical rows (same entries, same fallback), weights summed (reduction 4)."""
    if rows.n_rows < 2:
        return rows, weights, fallback
    key = np.ascontiguousarray(fallback, dtype=np.float64)
    degree = rows.row_degree().astype(np.uint64)
    signature = np.stack([degree, *(_row_hashes(rows, key, s, with_values) for s in _SEEDS)], axis=1)
    _, first, group = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    representative = first[group]
    # Verify every row against its representative, entry by entry: a collision must not merge rows.
    ptr = rows.indptr()
    offset = np.arange(len(rows.row)) - ptr[rows.row]
    twin = ptr[representative[rows.row]] + offset
    differs = rows.col != rows.col[twin]
    if with_values:
        differs |= rows.val != rows.val[twin]
    bad = np.bincount(rows.row[differs], minlength=rows.n_rows) > 0
    bad |= key != key[representative]
    if bad.any():
        group = group.copy()
        group[bad] = group.max() + 1 + np.arange(int(bad.sum()))
        _, first, group = np.unique(group, return_index=True, return_inverse=True)
    keep = np.zeros(rows.n_rows, dtype=bool)
    keep[first] = True
    rank = np.cumsum(keep) - 1  # new index of each kept row, in original order
    merged = np.zeros(int(keep.sum()))
    np.add.at(merged, rank[first[group]], weights)
    return rows.take_rows(keep), merged, fallback[keep]


def _product_work(degree: np.ndarray) -> int:
    """Multiply-adds of PᵀP when ``degree`` counts the entries of each row of P."""
    return int(np.dot(degree.astype(np.int64), degree.astype(np.int64)))


def _dominated_cols(rows: _Rows, with_values: bool, work_limit: int) -> np.ndarray:
    """Columns dominated by another kept column (reduction 5); empty columns always."""
    degree = rows.col_degree()
    dominated = degree == 0
    if _product_work(rows.row_degree()) > work_limit:
        return dominated
    pattern = rows.pattern()
    shared = (pattern.T @ pattern).tocoo()
    a, b, count = shared.row, shared.col, shared.data
    subset = (a != b) & (count == degree[a])  # N(a) ⊆ N(b)
    a, b = a[subset], b[subset]
    if not with_values:
        beats = (degree[b] > degree[a]) | (b < a)
        dominated[a[beats]] = True
        return dominated
    # p-median: b must also be no farther than a wherever a serves.
    lengths = degree[a]
    if not len(a) or int(lengths.sum()) > work_limit:
        return dominated
    by_col, col_ptr = rows.by_column()
    pos = by_col[_expand_ranges(col_ptr[a], lengths)]
    starts = np.cumsum(lengths) - lengths
    demand_rows, t_a = rows.row[pos], rows.val[pos]
    keys = rows.row.astype(np.int64) * rows.n_cols + rows.col  # ascending, as the entries are sorted
    t_b = rows.val[np.searchsorted(keys, demand_rows.astype(np.int64) * rows.n_cols + np.repeat(b, lengths))]
    no_farther = np.logical_and.reduceat(t_b <= t_a, starts)
    identical = np.logical_and.reduceat(t_b == t_a, starts) & (degree[b] == degree[a])
    beats = no_farther & ~(identical & (b > a))
    dominated[a[beats]] = True
    return dominated


def _superset_rows(rows: _Rows, work_limit: int) -> np.ndarray:
    """Rows whose candidate set contains another row's (reduction 6, LSCP)."""
    degree = rows.row_degree()
    redundant = np.zeros(rows.n_rows, dtype=bool)
    if _product_work(rows.col_degree()) > work_limit:
        return redundant
    pattern = rows.pattern()
    shared = (pattern @ pattern.T).tocoo()
    i, i2, count = shared.row, shared.col, shared.data
    contains = (i != i2) & (count == degree[i2]) & ((degree[i] > degree[i2]) | (i > i2))
    redundant[i[contains]] = True
    return redundant


def _candidate_rows(c: Catchments) -> _Rows:
    is_candidate = c.site < c.n_candidates
    return _Rows(
        c.n_demand, c.n_candidates, c.demand[is_candidate], c.site[is_candidate], c.seconds[is_candidate]
    )


def _fixed_best(c: Catchments) -> np.ndarray:
    """Seconds to the nearest fixed site per demand point (inf when none within the cutoff)."""
    best = np.full(c.n_demand, np.inf)
    fixed = c.site >= c.n_candidates
    np.minimum.at(best, c.demand[fixed], c.seconds[fixed])
    return best


def _reduce(c: Catchments, method: str, options: SolveOptions) -> _Reduced:
    rows = _candidate_rows(c)
    weights = c.weights
    fixed_best = _fixed_best(c)
    reachable = np.bincount(c.demand, minlength=c.n_demand) > 0
    sizes = {"demand": c.n_demand, "candidates": c.n_candidates, "pairs": len(c.demand)}
    constant = 0.0
    if method == "p-median":
        penalty = options.unserved_factor * c.cutoff_seconds
        fallback = np.minimum(fixed_best, penalty)
        rows = rows.entries(rows.val < fallback[rows.row])  # reduction 2: never farther than a fixed site
        active = (weights > 0) & (rows.row_degree() > 0)
        constant = float(np.dot(weights[~active], fallback[~active]))
        with_values = True
    else:
        fallback = np.ones(c.n_demand)
        active = (weights > 0) & ~np.isfinite(fixed_best) & (rows.row_degree() > 0)
        if method == "mclp":
            constant = float(weights[(weights > 0) & np.isfinite(fixed_best)].sum())
        rows = _Rows(rows.n_rows, rows.n_cols, rows.row, rows.col, np.zeros(len(rows.row)))
        with_values = False
    sizes["uncoverable_rows"] = int(((weights > 0) & ~reachable).sum())
    rows, weights, fallback = rows.take_rows(active), weights[active], fallback[active]
    sizes["rows_active"] = rows.n_rows
    rows, weights, fallback = _merge_identical_rows(rows, weights, fallback, with_values)
    sizes["rows_merged"] = rows.n_rows
    candidates = np.arange(c.n_candidates)
    for _ in range(_MAX_REDUCTION_ROUNDS):
        changed = False
        dominated = _dominated_cols(rows, with_values, options.reduction_work_limit)
        if dominated.any():
            rows, candidates, changed = rows.take_cols(~dominated), candidates[~dominated], True
        if method == "lscp":
            redundant = _superset_rows(rows, options.reduction_work_limit)
            if redundant.any():
                keep = ~redundant
                rows, weights, fallback, changed = rows.take_rows(keep), weights[keep], fallback[keep], True
        if changed:  # rows that differed only in a dropped candidate are identical now
            rows, weights, fallback = _merge_identical_rows(rows, weights, fallback, with_values)
        if not changed or method != "lscp":
            break
    sizes["rows_model"] = rows.n_rows
    sizes["candidates_model"] = rows.n_cols
    sizes["pairs_model"] = len(rows.row)
    return _Reduced(rows, weights, fallback, candidates, constant, sizes)


# --- greedy start and pruning, on the cost form: each row pays min(fallback, min_{open j} val_ij) ----------


def _expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + n)`` for each (s, n), without a Python loop."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _greedy(r: _Reduced, k: int) -> np.ndarray:
    """Columns picked one at a time by largest weighted cost reduction, at most ``k``; stops at no gain.

    Gains are kept up to date incrementally: opening a column changes the cost of its rows only, so only
    the entries of those rows are re-scored."""
    rows = r.rows
    cost = r.fallback.copy()
    ptr = rows.indptr()
    by_col, col_ptr = rows.by_column()

    def entry_gain(entries: np.ndarray) -> np.ndarray:
        row = rows.row[entries]
        return r.weights[row] * np.maximum(cost[row] - rows.val[entries], 0.0)

    gain = np.bincount(rows.col, entry_gain(np.arange(len(rows.row))), minlength=rows.n_cols)
    picked: list[int] = []
    while len(picked) < min(k, rows.n_cols):
        best = int(np.argmax(gain))
        own = by_col[col_ptr[best] : col_ptr[best + 1]]
        if gain[best] <= 0 or entry_gain(own).sum() <= 0:  # the exact gain guards against drift
            if gain[best] <= 0:
                break
            gain[best] = 0.0  # gains only fall, so this column never helps again
            continue
        touched_rows = rows.row[own]
        touched = _expand_ranges(ptr[touched_rows], ptr[touched_rows + 1] - ptr[touched_rows])
        before = entry_gain(touched)
        cost[touched_rows] = np.minimum(cost[touched_rows], rows.val[own])
        gain -= np.bincount(rows.col[touched], before - entry_gain(touched), minlength=rows.n_cols)
        gain[best] = -np.inf
        picked.append(best)
    return np.array(sorted(picked), dtype=np.int64)


def _removal_loss(r: _Reduced, open_cols: np.ndarray) -> np.ndarray:
    """Per open column: how much the weighted cost rises if it alone closes."""
    rows = r.rows
    is_open = np.zeros(rows.n_cols, dtype=bool)
    is_open[open_cols] = True
    e = np.flatnonzero(is_open[rows.col])
    order = e[np.lexsort((rows.val[e], rows.row[e]))]
    row, col, val = rows.row[order], rows.col[order], rows.val[order]
    first = _starts_of_runs(row)
    second_val = r.fallback[row].copy()
    has_second = np.zeros(len(row), dtype=bool)
    has_second[:-1] = ~first[1:]
    second_val[has_second] = val[1:][has_second[:-1]]
    loss = np.zeros(rows.n_cols)
    np.add.at(loss, col[first], r.weights[row[first]] * (second_val[first] - val[first]))
    return loss[open_cols]


def _prune(r: _Reduced, picked: np.ndarray) -> np.ndarray:
    """Drop open columns whose closing costs nothing, one at a time (so twins keep one of them)."""
    picked = np.asarray(picked, dtype=np.int64)
    while len(picked):
        loss = _removal_loss(r, picked)
        useless = np.flatnonzero(loss <= 0)
        if not len(useless):
            break
        picked = np.delete(picked, useless[-1])
    return picked


def _cost_of(r: _Reduced, open_cols: np.ndarray) -> float:
    """Weighted cost of the reduced rows when ``open_cols`` are open (the form the greedy works on)."""
    rows = r.rows
    cost = r.fallback.copy()
    is_open = np.zeros(rows.n_cols, dtype=bool)
    is_open[open_cols] = True
    e = is_open[rows.col]
    np.minimum.at(cost, rows.row[e], rows.val[e])
    return float(np.dot(r.weights, cost))


# --- the MILPs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Milp:
    """A MILP in HiGHS's column-wise form; the first ``n_binary`` columns are the binary site variables."""

    sense: int  # 1 minimise, -1 maximise
    offset: float
    cost: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: sp.csc_matrix
    n_binary: int


def _budget_row(n_sites: int, n_other: int) -> sp.csr_matrix:
    import scipy.sparse as sp

    return sp.csr_matrix(np.concatenate([np.ones(n_sites), np.zeros(n_other)])[None, :])


def _mclp_milp(r: _Reduced, k: int) -> _Milp:
    import scipy.sparse as sp

    m, n = r.rows.n_cols, r.rows.n_rows
    cover = sp.hstack([-r.rows.pattern(), sp.identity(n, format="csr")], format="csr")  # y_i − Σ x_j ≤ 0
    matrix = sp.vstack([cover, _budget_row(m, n)], format="csc")
    return _Milp(
        sense=-1,
        offset=r.constant,
        cost=np.concatenate([np.zeros(m), r.weights]),
        upper=np.ones(m + n),
        row_lower=np.full(n + 1, -np.inf),
        row_upper=np.concatenate([np.zeros(n), [k]]),
        matrix=matrix,
        n_binary=m,
    )


def _lscp_milp(r: _Reduced) -> _Milp:
    m, n = r.rows.n_cols, r.rows.n_rows
    return _Milp(
        sense=1,
        offset=0.0,
        cost=np.ones(m),
        upper=np.ones(m),
        row_lower=np.ones(n),
        row_upper=np.full(n, np.inf),
        matrix=r.rows.pattern().tocsc(),
        n_binary=m,
    )


def _pmedian_milp(r: _Reduced, k: int) -> _Milp:
    import scipy.sparse as sp

    rows = r.rows
    m, n, pairs = rows.n_cols, rows.n_rows, len(rows.row)
    pair_ids = np.arange(pairs)
    ones = np.ones(pairs)
    assign = sp.csr_matrix((ones, (rows.row, pair_ids)), shape=(n, pairs))  # Σ_j z_ij ≤ 1
    site_of = sp.csr_matrix((-ones, (pair_ids, rows.col)), shape=(pairs, m))  # z_ij − x_j ≤ 0
    matrix = sp.vstack(
        [
            sp.hstack([sp.csr_matrix((n, m)), assign]),
            sp.hstack([site_of, sp.identity(pairs, format="csr")]),
            _budget_row(m, pairs),
        ],
        format="csc",
    )
    pair_cost = r.weights[rows.row] * (rows.val - r.fallback[rows.row])
    return _Milp(
        sense=1,
        offset=r.constant + float(np.dot(r.weights, r.fallback)),
        cost=np.concatenate([np.zeros(m), pair_cost]),
        upper=np.ones(m + pairs),
        row_lower=np.full(n + pairs + 1, -np.inf),
        row_upper=np.concatenate([np.ones(n), np.zeros(pairs), [k]]),
        matrix=matrix,
        n_binary=m,
    )


def _start_values(method: str, r: _Reduced, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of a complete feasible start for the MILP of ``method``."""
    rows = r.rows
    m = rows.n_cols
    x = np.zeros(m)
    x[start] = 1.0
    if method == "lscp":
        return np.arange(m, dtype=np.int32), x
    if method == "mclp":
        y = np.zeros(rows.n_rows)
        y[rows.row[x[rows.col] > 0]] = 1.0
        return np.arange(m + rows.n_rows, dtype=np.int32), np.concatenate([x, y])
    # p-median: each row takes its nearest open pair (entries sorted by row; pick min val among open ones)
    z = np.zeros(len(rows.row))
    open_pairs = np.flatnonzero(x[rows.col] > 0)
    if len(open_pairs):
        order = open_pairs[np.lexsort((rows.val[open_pairs], rows.row[open_pairs]))]
        z[order[_starts_of_runs(rows.row[order])]] = 1.0
    return np.arange(m + len(z), dtype=np.int32), np.concatenate([x, z])


def _run_highs(
    milp: _Milp, start: tuple[np.ndarray, np.ndarray] | None, options: SolveOptions
) -> tuple[np.ndarray | None, str, bool, float | None]:
    """Solve; (site values or None without a feasible solution, status, proven optimal, relative gap)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    a = milp.matrix
    n_cols, n_rows = a.shape[1], a.shape[0]
    integrality = np.zeros(n_cols, dtype=np.int32)
    integrality[: milp.n_binary] = 1  # kInteger
    h.passModel(
        n_cols,
        n_rows,
        int(a.nnz),
        1,
        milp.sense,
        float(milp.offset),
        milp.cost.astype(np.float64),
        np.zeros(n_cols),
        milp.upper.astype(np.float64),
        milp.row_lower.astype(np.float64),
        milp.row_upper.astype(np.float64),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        integrality,
    )
    if start is not None:
        h.setSolution(len(start[0]), start[0], start[1])
    if h.run() == highspy.HighsStatus.kError:
        log.warning("HiGHS failed on a %d × %d siting model; using the greedy start", n_rows, n_cols)
        return None, "solver error", False, None
    status = h.getModelStatus()
    info = h.getInfo()
    gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
    optimal = status == highspy.HighsModelStatus.kOptimal
    if info.primal_solution_status != _FEASIBLE:
        return None, h.modelStatusToString(status), False, None
    values = np.asarray(h.getSolution().col_value[: milp.n_binary])
    return values, h.modelStatusToString(status), optimal, (0.0 if optimal and gap is None else gap)


def _bound_gap(method: str, r: _Reduced, objective: float) -> float:
    """Relative gap of ``objective`` to a bound that needs no solver: MCLP, every remaining row covered;
    p-median, every row served by its best candidate; LSCP, rows ÷ the most any one candidate covers."""
    if method == "mclp":
        bound = r.constant + float(r.weights.sum())
    elif method == "p-median":
        best = r.fallback.copy()
        np.minimum.at(best, r.rows.row, r.rows.val)
        bound = r.constant + float(np.dot(r.weights, best))
    else:
        degree = r.rows.col_degree()
        bound = (
            float(math.ceil(r.rows.n_rows / degree.max()))
            if r.rows.n_rows and degree.size and degree.max()
            else 0.0
        )
    return abs(objective - bound) / max(abs(objective), 1e-9)


def solve(c: Catchments, method: str, k: int | None, options: SolveOptions | None = None) -> Solution:
    """Choose new sites among the candidates of ``c`` by ``method`` (``k``: most new sites; LSCP ignores it).

    Returns the chosen candidates with the full objective (see the module docstring for the models, the
    reductions and why each is exact)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    if method != "lscp" and (k is None or k < 0):
        raise ValueError(f"{method} needs k ≥ 0")
    options = options or SolveOptions()
    began = time.perf_counter()
    reduced = _reduce(c, method, options)
    budget = reduced.rows.n_cols if method == "lscp" else min(int(k or 0), reduced.rows.n_cols)
    gap: float | None = 0.0
    solve_began = time.perf_counter()
    if reduced.rows.n_rows == 0 or budget == 0:
        picked, status, optimal = np.zeros(0, dtype=np.int64), "nothing to decide", True
    elif method != "lscp" and budget == reduced.rows.n_cols:
        picked, status, optimal = np.arange(budget), "every remaining candidate fits in k", True
    elif options.time_limit_s <= _NO_TIME_S:
        # the request's time is spent: the greedy answer, with the gap to a bound that costs nothing
        picked, status, optimal, gap = _greedy(reduced, budget), "time limit: greedy", False, None
    else:
        if method == "lscp":
            # No start: HiGHS finds covers at once, and a full greedy cover costs more than it saves.
            greedy, model = None, _lscp_milp(reduced)
        else:
            greedy = _greedy(reduced, budget)
            model = (_mclp_milp if method == "mclp" else _pmedian_milp)(reduced, budget)
        reduced.sizes.update(
            milp_cols=model.matrix.shape[1],
            milp_rows=model.matrix.shape[0],
            milp_nonzeros=int(model.matrix.nnz),
        )
        start = None if greedy is None else _start_values(method, reduced, greedy)
        solve_began = time.perf_counter()
        values, status, optimal, gap = _run_highs(model, start, options)
        if values is not None:
            picked = np.flatnonzero(values > 0.5)
        else:
            picked = greedy if greedy is not None else _greedy(reduced, budget)
    solved = time.perf_counter()
    picked = _prune(reduced, picked)
    cost = _cost_of(reduced, picked)
    if method == "mclp":
        objective = reduced.constant + float(reduced.weights.sum()) - cost
    elif method == "lscp":
        objective = float(len(picked))
    else:
        objective = reduced.constant + cost
    if gap is None and not optimal:
        gap = _bound_gap(method, reduced, objective)
    return Solution(
        method=method,
        chosen=np.sort(reduced.candidates[picked]),
        objective=objective,
        optimal=optimal,
        gap=gap,
        status=status,
        model=reduced.sizes,
        build_seconds=solve_began - began,
        solve_seconds=solved - solve_began,
    )


def evaluate(c: Catchments, chosen: np.ndarray) -> Evaluation:
    """Coverage and walking times when the fixed sites and the candidates ``chosen`` are open."""
    w = c.weights
    is_open = np.zeros(c.n_sites, dtype=bool)
    is_open[c.n_candidates :] = True
    chosen = np.asarray(chosen, dtype=np.int64)
    is_open[chosen] = True
    fixed_rows = np.zeros(c.n_demand, dtype=bool)
    fixed_rows[c.demand[c.site >= c.n_candidates]] = True
    best = np.full(c.n_demand, np.inf)
    entry_open = is_open[c.site]
    np.minimum.at(best, c.demand[entry_open], c.seconds[entry_open])
    covered = np.isfinite(best)
    reachable = np.zeros(c.n_demand, dtype=bool)
    reachable[c.demand] = True
    covered_weight = float(w[covered].sum())
    position = np.full(c.n_sites, -1)
    position[chosen] = np.arange(len(chosen))
    of_chosen = position[c.site] >= 0
    site_weight = np.bincount(position[c.site[of_chosen]], w[c.demand[of_chosen]], minlength=len(chosen))
    new = of_chosen & ~fixed_rows[c.demand]
    site_new = np.bincount(position[c.site[new]], w[c.demand[new]], minlength=len(chosen))
    return Evaluation(
        total_weight=float(w.sum()),
        covered_weight=covered_weight,
        covered_weight_before=float(w[fixed_rows].sum()),
        uncoverable_weight=float(w[~reachable].sum()),
        walk_seconds_mean=float(np.dot(w[covered], best[covered]) / covered_weight)
        if covered_weight > 0
        else None,
        site_weight=site_weight,
        site_new_weight=site_new,
    )
