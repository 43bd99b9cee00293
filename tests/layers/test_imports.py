"""The layer catalogue package has no import cycle, and neither do tiles and the OGC API built on it.

``geo_service.layers`` owns the layer model, its SQL and its probing; ``tiles`` and ``ogc`` use it and it
uses neither. Before, ``tiles/catalogue.py`` and ``tiles/store.py`` imported each other (one of the two
imports hidden inside a function).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.layers.imports import PACKAGE, cycles, import_graph

CATALOGUE_PACKAGES = ("geo_service.layers", "geo_service.tiles", "geo_service.ogc")


def _ours(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in CATALOGUE_PACKAGES)


def test_no_cycle_through_the_layer_catalogue() -> None:
    graph = import_graph()
    assert "geo_service.layers.sql" in graph["geo_service.tiles.service"]  # the graph sees real edges
    assert [c for c in cycles(graph) if any(_ours(m) for m in c)] == []


def test_no_cycle_anywhere_in_the_package() -> None:
    """Not even one hidden behind ``TYPE_CHECKING`` or inside a function: shared types live in their own
    modules (``stations/context.py``) or are protocols (``db/revisions.py``'s ``RevisionSource``)."""
    graph = import_graph()
    assert "geo_service.stations.context" in graph["geo_service.stations.inspections"]
    assert cycles(graph) == []


def test_layers_imports_neither_tiles_nor_ogc() -> None:
    graph = import_graph()
    layers = [m for m in graph if m.startswith("geo_service.layers")]
    assert len(layers) >= 4
    reached = {t for m in layers for t in graph[m]}
    assert not [
        t for t in reached if t.startswith(("geo_service.tiles", "geo_service.ogc", "geo_service.api"))
    ]


def test_a_cycle_is_found_even_through_a_lazy_import(tmp_path: Path) -> None:
    package = tmp_path / "geo_service"
    (package / "tiles").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tiles" / "__init__.py").write_text("")
    (package / "tiles" / "catalogue.py").write_text("def check():\n    from geo_service.tiles import store\n")
    (package / "tiles" / "store.py").write_text("from geo_service.tiles.catalogue import check\n")
    assert cycles(import_graph(package)) == [["geo_service.tiles.catalogue", "geo_service.tiles.store"]]


@pytest.mark.parametrize(
    "module",
    sorted(
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for package in ("layers", "tiles")
        for p in (PACKAGE / package).glob("*.py")
    ),
)
def test_each_module_imports_alone(module: str) -> None:
    """Imported first in a fresh interpreter, every module of the catalogue and tiles loads (an order-dependent
    import, as a cycle makes, fails here with a partially initialised module)."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
