"""Every notebook in notebooks/ runs end to end against a copy of the demo city test database (Helsinki, the
demo hierarchy, stations and incidents, built once per run): a notebook's own ``load_demo`` finds each part
there and goes on, rather than proposing the demo grids over the network again in its kernel (each step's
building is what the shared template runs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from geo_service.db.pool import Database

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, fresh_demo_city_db: Database, monkeypatch):
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", fresh_demo_city_db.dsn)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend puts figures in the outputs
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.parent)}},
    )
    executed = client.execute()
    images = [
        o
        for cell in executed.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3, "the coverage map, the gaps map and the guide map are drawn"
