"""The import's connected pieces of the walking network (numpy union–find) against scipy's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo_service.osm.extract import component_labels, network_components


@pytest.mark.parametrize(("n", "m"), [(1, 0), (10, 3), (1000, 900), (20_000, 19_000), (5_000, 20_000)])
def test_the_same_pieces_as_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    labels = component_labels(n, u, v)
    count, reference = connected_components(coo_matrix((np.ones(m), (u, v)), shape=(n, n)), directed=False)
    assert len(np.unique(labels)) == count
    # the same partition: each of our pieces is exactly one of scipy's
    assert len(set(zip(labels.tolist(), reference.tolist(), strict=True))) == count
    assert (labels <= np.arange(n)).all() and (labels[labels] == labels).all()  # the smallest node: a root


def test_a_long_shuffled_path_is_one_piece() -> None:
    n = 50_000
    order = np.random.default_rng(7).permutation(n)
    labels = component_labels(n, order[:-1], order[1:])
    assert (labels == 0).all()


def test_network_components_counts_pieces_and_sizes() -> None:
    edges = pd.DataFrame({"u": [10, 11, 20, 30], "v": [11, 12, 21, 30]})  # 3 + 2 + 1 nodes
    assert network_components(edges) == {"count": 3, "largest_share": 0.5, "sizes": [3, 2, 1]}
