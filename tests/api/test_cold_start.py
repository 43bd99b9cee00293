"""A serving process imports only what answering its first requests needs: the plotting, map, dataframe,
Arrow, numba and sparse-matrix stacks are imported by the first request (or the background warm-up, after
ready) that uses them, not before ``/readyz`` can answer. The routes that use them are tested where they live
(guide map, overview map, batch locate with Arrow bodies, siting, isochrones)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from tests.conftest import REPO

#: imported lazily by the modules that use them (geo_service/jit.py for numba)
LAZY = (
    "matplotlib",
    "folium",
    "pandas",
    "pyarrow",
    "numba",
    "llvmlite",
    "scipy.ndimage",
    "scipy.sparse",
    "scipy.spatial",
    "highspy",
)

PROBE = """
import json, sys
import geo_service.api.app as app_module
after_import = sorted(m for m in {lazy} if m in sys.modules)
app = app_module.create_app()  # no database opened before the lifespan starts
after_create = sorted(m for m in {lazy} if m in sys.modules)
from geo_service.walking import snapping
print(json.dumps({{"import": after_import, "create": after_create, "paths": sorted(app.openapi()["paths"]),
                   "kernel": type(snapping.snap_points).__name__}}))
"""


def test_the_app_imports_without_the_heavy_stacks() -> None:
    for module in LAZY:  # installed: absent below because not imported, not because missing
        assert importlib.util.find_spec(module.split(".")[0]) is not None, module
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(lazy=repr(LAZY))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["import"] == []
    assert seen["create"] == []
    assert {"/api/isochrones", "/api/locate", "/maps/overview.html", "/api/siting"} <= set(
        seen["paths"]
    )  # all of it built
    assert seen["kernel"] == "Kernel"  # a stand-in until the first search compiles or loads it


def test_a_kernel_stand_in_becomes_numbas_dispatcher_on_first_call() -> None:
    """The first call imports numba and puts the dispatchers in the module (numba resolves the kernels a
    kernel calls from there); a caller that kept the stand-in gets the same answers through it."""
    probe = """
import json, sys
import numpy as np
from geo_service.walking import search
from geo_service.walking.search import reset
assert "numba" not in sys.modules
dist = np.array([1.0, 2.0, 3.0]); touched = np.array([0, 2], np.int32)  # a workspace's (cached) type
reset(dist, touched, 2)
print(json.dumps({"numba": "numba" in sys.modules, "module": type(search.reset).__name__,
                  "kept": type(reset).__name__, "dist": [None if d == float("inf") else d for d in dist],
                  "pop": type(search._pop).__name__}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["numba"] is True
    assert seen["module"] == "CPUDispatcher"
    assert seen["pop"] == "CPUDispatcher"  # its module's other kernels too
    assert seen["kept"] == "Kernel"
    assert seen["dist"] == [None, 2.0, None]
