"""Batch locate and batch reach on a real two-worker Dask LocalCluster (two processes) over the Helsinki demo
city: every answer equals the single-process service's (locate per point; walking travel times by the
walking engine's own travel matrix), whatever the input format, and bad jobs are refused before writing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.batch.cache import worker_stats
from geo_service.batch.errors import BatchError
from geo_service.batch.jobs import batch_locate, batch_reach, read_points
from geo_service.batch.partition import cell_groups
from geo_service.db.pool import Database
from geo_service.locate.service import current_index, locate
from geo_service.store import residences
from geo_service.walking.service import travel_matrix
from tests.conftest import REPO

HIERARCHY = ("grid", "community", "street", "district")


def _points(city: Database, corners: bool = True) -> pd.DataFrame:
    """Every residence, the vertices of some grids (shared edges: the tie rule), points outside every grid
    and rows without usable coordinates."""
    with city.cursor(dict_rows=False) as cur:
        homes = residences.homes(cur)
    index = current_index(city)
    corners = shapely.get_coordinates(index.grids.geoms[:40])[::3] if corners else np.empty((0, 2))
    rng = np.random.default_rng(7)
    west, south, east, north = shapely.total_bounds(index.grids.geoms)
    spread = np.column_stack(
        [rng.uniform(west - 0.05, east + 0.05, 300), rng.uniform(south - 0.03, north + 0.03, 300)]
    )
    lon = np.concatenate([[h[1] for h in homes], corners[:, 0], spread[:, 0]])
    lat = np.concatenate([[h[2] for h in homes], corners[:, 1], spread[:, 1]])
    frame = pd.DataFrame({"name": [f"p{i}" for i in range(len(lon))], "lon": lon, "lat": lat})
    bad = pd.DataFrame({"name": ["nan", "range"], "lon": [np.nan, 200.0], "lat": [60.17, 60.17]})
    return pd.concat([frame, bad], ignore_index=True)


# ``locate``'s answers by (areas revision, lon, lat): the module's tests check the same points again and again
# (every residence, the same corners and scattered points), and a point's answer changes only with the areas.
_LOCATED: dict[tuple[int, float, float], dict[str, str]] = {}


def _expected_locate(city: Database, frame: pd.DataFrame) -> dict[str, list[str | None]]:
    """The single-process answer: ``locate`` of each point, the grid and the level of each ancestor."""
    expected: dict[str, list[str | None]] = {f"{level}_code": [] for level in HIERARCHY}
    revision = current_index(city).revision
    for lon, lat in zip(frame["lon"], frame["lat"], strict=True):
        key = (revision, float(lon), float(lat))
        found = _LOCATED.get(key, {})
        if key not in _LOCATED and np.isfinite(lon) and abs(lon) <= 180:
            answer = locate(city, lon, lat)
            if answer.grid is not None:
                found["grid"] = answer.grid.code
            for area in answer.ancestors:
                found.setdefault(area.level, area.code)
            _LOCATED[key] = found
        for level in HIERARCHY:
            expected[f"{level}_code"].append(found.get(level))
    return expected


def _read(target: Path) -> gpd.GeoDataFrame:
    parts = sorted(target.glob("*.parquet"))
    assert parts, f"nothing written to {target}"
    out = gpd.read_parquet(target)
    for column in out.columns:  # area codes and names are dictionary-coded: categoricals in pandas
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.sort_values("input_order").reset_index(drop=True)


@contextmanager
def _renamed(city: Database, code: str, suffix: str) -> Iterator[str]:
    """Grid ``code`` renamed (a new revision of the areas) while the block runs; yields the new name."""
    with city.cursor() as cur:
        cur.execute(
            "UPDATE areas SET name = name || %s WHERE code = %s AND valid_to IS NULL RETURNING name",
            (suffix, code),
        )
        renamed = cur.fetchone()["name"]
    try:
        yield renamed
    finally:
        with city.cursor() as cur:
            cur.execute(
                "UPDATE areas SET name = left(name, -%s) WHERE code = %s AND valid_to IS NULL",
                (len(suffix), code),
            )


def test_batch_locate_on_two_workers_equals_locate_point_by_point(
    city: Database, dask_client, tmp_path: Path
) -> None:
    frame = _points(city)
    source = tmp_path / "points.csv"
    frame.to_csv(source, index=False)
    # small blocks and cells: several input partitions, many cells, both workers busy
    summary = batch_locate(
        dask_client, source, tmp_path / "out", dsn=city.dsn, window_deg=0.01, blocksize="8kB", progress=False
    )
    out = _read(tmp_path / "out")
    assert summary.rows == len(frame) == len(out)
    assert summary.parts > 1
    assert out["name"].tolist() == frame["name"].tolist()  # input columns kept, input order recoverable
    expected = _expected_locate(city, frame)
    for column, values in expected.items():
        got = [None if pd.isna(v) else v for v in out[column]]
        assert got == values, column
    inside = out["grid_code"].notna()
    assert inside.sum() > 300 and (~inside).sum() > 50  # both kinds of points were exercised
    names = {info.code: info.name for info in current_index(city).grids.infos}
    assert [names[c] for c in out.loc[inside, "grid_code"]] == out.loc[inside, "grid_name"].tolist()
    assert out.crs.to_epsg() == 4326
    assert np.allclose(out.geometry.x[:5], frame["lon"][:5]) and out.geometry.iloc[-1] is None


def _builds(dask_client) -> dict[str, int]:
    """Locate windows built so far, per worker (each worker's own counter)."""
    return {
        address: stats["builds"].get("locate", 0) for address, stats in dask_client.run(worker_stats).items()
    }


def test_a_window_is_built_once_per_worker_and_again_only_when_the_grids_change(
    city: Database, dask_client, tmp_path: Path
) -> None:
    frame = _points(city).sample(frac=1.0, random_state=5)  # every block spread over the city
    source = tmp_path / "points.csv"
    frame.to_csv(source, index=False)
    window_deg = 0.05
    blocks = read_points(source, blocksize="8kB")
    windows_per_task = [
        len(cell_groups(part["_lon"].to_numpy(), part["_lat"].to_numpy(), window_deg))
        for part in (blocks.get_partition(i).compute() for i in range(blocks.npartitions))
    ]
    every = {key for key, _ in cell_groups(frame["lon"].to_numpy(), frame["lat"].to_numpy(), window_deg)}
    assert blocks.npartitions >= 4 and sum(windows_per_task) > 2 * len(every)  # tasks share windows

    def run(name: str) -> dict[str, int]:
        before = _builds(dask_client)
        batch_locate(
            dask_client,
            source,
            tmp_path / name,
            dsn=city.dsn,
            window_deg=window_deg,
            blocksize="8kB",
            progress=False,
        )
        return {worker: count - before.get(worker, 0) for worker, count in _builds(dask_client).items()}

    first = run("first")
    assert len(first) == 2 and all(0 < count <= len(every) for count in first.values())
    assert sum(first.values()) < sum(windows_per_task)  # not once per task and window
    again = run("again")  # the same revision: a worker builds only windows it has not seen yet
    assert all(first[worker] + again[worker] <= len(every) for worker in first)
    assert sum(again.values()) < sum(first.values())
    assert _read(tmp_path / "again")["grid_code"].tolist() == _read(tmp_path / "first")["grid_code"].tolist()

    code = _read(tmp_path / "first")["grid_code"].dropna().iloc[0]
    with _renamed(city, code, "（新）") as renamed:
        assert sum(run("edited").values()) > 0  # a new areas revision: windows built again
        edited = _read(tmp_path / "edited")
        assert set(edited.loc[edited["grid_code"] == code, "grid_name"]) == {renamed}


def test_windows_outlive_the_workers_until_the_grids_change(
    city: Database, dask_client, tmp_path: Path
) -> None:
    """Windows are kept on disk per revision of the areas: fresh worker processes load them instead of
    building them, and after a grid edit they are built again, answering with the edit."""
    frame = _points(city)
    source = tmp_path / "points.csv"
    frame.to_csv(source, index=False)
    windows = tmp_path / "windows"

    def run(name: str) -> tuple[gpd.GeoDataFrame, int, int]:
        built, loaded = _shared(dask_client, "locate")
        batch_locate(
            dask_client,
            source,
            tmp_path / name,
            dsn=city.dsn,
            window_deg=0.02,
            blocksize="8kB",
            windows_dir=windows,
            progress=False,
        )
        built_now, loaded_now = _shared(dask_client, "locate")
        return _read(tmp_path / name), built_now - built, loaded_now - loaded

    first, built, _ = run("first")
    every = {key for key, _ in cell_groups(frame["lon"].to_numpy(), frame["lat"].to_numpy(), 0.02)}
    assert built == len(every)  # each window once for the cluster
    states = [p for family in windows.iterdir() for p in family.iterdir()]
    assert len(states) == 1 and len(list(states[0].glob("*.pickle"))) == len(every)

    dask_client.restart()  # new worker processes: nothing in memory
    again, built, loaded = run("again")
    assert built == 0 and loaded >= len(every)  # every window loaded from disk, none built
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))

    code = first["grid_code"].dropna().iloc[0]
    with _renamed(city, code, "（改）") as renamed:
        edited, built, _ = run("edited")
        assert built == len(every)  # a new revision of the areas: every window built again
        assert set(edited.loc[edited["grid_code"] == code, "grid_name"]) == {renamed}
        expected = _expected_locate(city, frame)  # the single-process answers, after the edit
        for column, values in expected.items():
            assert [None if pd.isna(v) else v for v in edited[column]] == values, column
        states_now = [p for family in windows.iterdir() for p in family.iterdir()]
        assert len(states_now) == 1 and states_now != states  # the old revision's windows removed


@pytest.mark.parametrize("geo", [False, True], ids=["parquet", "geoparquet"])
def test_a_parquet_file_of_one_row_group_is_split_by_rows(
    city: Database, dask_client, tmp_path: Path, geo: bool
) -> None:
    """A file written in one piece (one row group) is read in slices of rows, not as one partition: memory
    per task is bounded by the block size whatever the file; the answers are those of point-by-point locate."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _points(city, corners=not geo).iloc[:-2]  # GeoParquet: the CRS test's points (no shared edges)
    source = tmp_path / "points.parquet"
    if geo:
        points = gpd.GeoDataFrame(
            frame[["name"]], geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
        )
        points.to_parquet(source, index=False, row_group_size=len(frame))
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=len(frame))
    assert pq.ParquetFile(source).num_row_groups == 1
    blocks = read_points(source, blocksize="2kB")
    assert blocks.npartitions > 4
    sizes = [len(blocks.get_partition(i).compute()) for i in range(blocks.npartitions)]
    assert sum(sizes) == len(frame) and max(sizes) < len(frame) / 4
    summary = batch_locate(
        dask_client, source, tmp_path / "out", dsn=city.dsn, window_deg=0.02, blocksize="2kB", progress=False
    )
    out = _read(tmp_path / "out")
    assert summary.parts == blocks.npartitions and len(out) == len(frame)
    assert out["name"].tolist() == frame["name"].tolist()  # every row once, input order recoverable
    for column, values in _expected_locate(city, frame).items():
        assert [None if pd.isna(v) else v for v in out[column]] == values, column


def test_geoparquet_in_any_crs_gives_the_same_answers(city: Database, dask_client, tmp_path: Path) -> None:
    # no grid vertices here: reprojecting moves a point on a shared edge by a rounding error, to either side
    frame = _points(city, corners=False).iloc[:-2]
    points = gpd.GeoDataFrame(
        frame[["name"]], geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
    points.to_crs(3067).to_parquet(tmp_path / "points.parquet")  # ETRS-TM35FIN metres
    from_csv = tmp_path / "points.csv"
    frame.to_csv(from_csv, index=False)
    batch_locate(dask_client, tmp_path / "points.parquet", tmp_path / "geo", dsn=city.dsn, progress=False)
    batch_locate(dask_client, from_csv, tmp_path / "csv", dsn=city.dsn, progress=False)
    geo, csv = _read(tmp_path / "geo"), _read(tmp_path / "csv")
    for level in HIERARCHY:
        assert geo[f"{level}_code"].fillna("-").tolist() == csv[f"{level}_code"].fillna("-").tolist(), level


def test_batch_reach_equals_the_walking_engines_travel_times(
    city: Database, dask_client, tmp_path: Path
) -> None:
    with city.cursor(dict_rows=False) as cur:
        homes = residences.homes(cur)
        cur.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM facilities WHERE category = 'pharmacy'"
            " AND deleted_at IS NULL ORDER BY id"
        )
        pharmacies = cur.fetchall()
    assert len(homes) > 100 and len(pharmacies) > 3
    frame = pd.DataFrame(
        {"home": [h[0] for h in homes], "lon": [h[1] for h in homes], "lat": [h[2] for h in homes]}
    )
    frame.to_parquet(tmp_path / "homes.parquet")
    summary = batch_reach(
        dask_client,
        tmp_path / "homes.parquet",
        tmp_path / "reach",
        "pharmacy",
        dsn=city.dsn,
        max_minutes=20,
        window_deg=0.01,
        progress=False,
    )
    out = _read(tmp_path / "reach")
    assert summary.rows == len(frame) and out["home"].tolist() == frame["home"].tolist()
    assert set(summary.revisions) == {"network", "facilities"}

    _assert_reach_equals_travel_matrix(city, frame, out, pharmacies, 20)


def _assert_reach_equals_travel_matrix(
    city: Database, frame: pd.DataFrame, out: pd.DataFrame, pharmacies: list, minutes: float
) -> None:
    """The single-process answer: one bounded search from each home to every pharmacy on the whole network."""
    targets = np.array([[p[1], p[2]] for p in pharmacies])
    matrix = travel_matrix(city, frame[["lon", "lat"]].to_numpy(), targets, max_seconds=minutes * 60)
    best = np.full(len(frame), np.inf)
    np.minimum.at(best, matrix.rows, matrix.seconds)
    reached = np.isfinite(best)
    assert reached.sum() > 50
    got = out["walk_seconds"].to_numpy()
    assert np.array_equal(np.isfinite(got), reached)
    assert np.allclose(got[reached], best[reached], rtol=1e-9, atol=1e-6)
    ids = np.array([p[0] for p in pharmacies])
    nearest = {}
    for r, c, s in zip(matrix.rows, matrix.cols, matrix.seconds, strict=True):
        nearest.setdefault(int(r), []).append((s, int(ids[c])))
    for row, options in nearest.items():
        seconds = min(s for s, _ in options)
        assert out["facility_id"][row] in {i for s, i in options if s <= seconds + 1e-6}
    assert (out.loc[~reached, "facility_id"] == -1).all()


def _shared(dask_client, kind: str) -> tuple[int, int]:
    """Windows of ``kind`` built into a job's folder and loaded from it, summed over the workers."""
    stats = list(dask_client.run(worker_stats).values())
    return (
        sum(s["shared"].get(f"{kind}_built", 0) for s in stats),
        sum(s["shared"].get(f"{kind}_loaded", 0) for s in stats),
    )


def test_reach_windows_are_built_once_for_the_cluster_and_loaded_ones_answer_the_same(
    city: Database, dask_client, tmp_path: Path
) -> None:
    """Every block spans the whole city, so both workers need every window: one builds it, the other loads
    the pickled reach engine (network, snapped facilities, searches) and answers from it."""
    with city.cursor(dict_rows=False) as cur:
        homes = residences.homes(cur)
        cur.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM facilities WHERE category = 'pharmacy'"
            " AND deleted_at IS NULL ORDER BY id"
        )
        pharmacies = cur.fetchall()
    frame = pd.DataFrame(
        {"home": [h[0] for h in homes], "lon": [h[1] for h in homes], "lat": [h[2] for h in homes]}
    ).sample(frac=1.0, random_state=11, ignore_index=True)
    frame.to_csv(tmp_path / "homes.csv", index=False)
    window_deg = 0.01
    every = {key for key, _ in cell_groups(frame["lon"].to_numpy(), frame["lat"].to_numpy(), window_deg)}
    assert len(every) >= 2 and read_points(tmp_path / "homes.csv", blocksize="2kB").npartitions >= 4
    built, loaded = _shared(dask_client, "reach")
    batch_reach(
        dask_client,
        tmp_path / "homes.csv",
        tmp_path / "reach",
        "pharmacy",
        dsn=city.dsn,
        max_minutes=15,  # keys no other test has built
        window_deg=window_deg,
        blocksize="2kB",
        progress=False,
    )
    built_now, loaded_now = _shared(dask_client, "reach")
    assert built_now - built == len(every)  # once for the cluster, not once per worker
    assert loaded_now - loaded > 0
    assert not (tmp_path / "reach" / "_windows").exists()
    out = _read(tmp_path / "reach")
    assert out["home"].astype(int).tolist() == frame["home"].tolist()
    _assert_reach_equals_travel_matrix(city, frame, out, pharmacies, 15)


def test_bad_jobs_are_refused_before_anything_is_written(city: Database, dask_client, tmp_path: Path) -> None:
    source = tmp_path / "homes.csv"
    pd.DataFrame({"x": [24.94], "y": [60.17]}).to_csv(source, index=False)
    with pytest.raises(BatchError) as missing:
        batch_locate(dask_client, source, tmp_path / "a", dsn=city.dsn, progress=False)
    assert missing.value.code == "batch.missing_columns"
    with pytest.raises(BatchError) as category:
        batch_reach(
            dask_client,
            source,
            tmp_path / "b",
            "no-such-thing",
            dsn=city.dsn,
            lon_column="x",
            lat_column="y",
            progress=False,
        )
    assert category.value.code == "batch.unknown_category"
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    with pytest.raises(BatchError) as exists:
        batch_locate(
            dask_client, source, tmp_path / "c", dsn=city.dsn, lon_column="x", lat_column="y", progress=False
        )
    assert exists.value.code == "batch.target_exists"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["keep.txt"]


def _cli(city: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": city.dsn, "GEO_SERVICE_LANGUAGE": "zh-CN"}
    return subprocess.run(
        [sys.executable, "-m", "geo_service.cli", "batch", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_command_line_runs_on_a_given_scheduler(city: Database, dask_client, tmp_path: Path) -> None:
    frame = _points(city).iloc[:-2]
    frame.to_csv(tmp_path / "points.csv", index=False)
    address = dask_client.scheduler.address
    done = _cli(city, "locate", str(tmp_path / "points.csv"), str(tmp_path / "out"), "--scheduler", address)
    assert done.returncode == 0, done.stderr
    assert f"已定位 {len(frame):,} 个点" in done.stdout
    out = _read(tmp_path / "out")
    assert out["grid_code"].fillna("-").tolist() == [
        v or "-" for v in _expected_locate(city, frame)["grid_code"]
    ]

    refused = _cli(
        city,
        "reach",
        str(tmp_path / "points.csv"),
        str(tmp_path / "r"),
        "--category",
        "nothing",
        "--scheduler",
        address,
    )
    assert refused.returncode == 1 and "没有“nothing”类设施" in refused.stderr
    assert not (tmp_path / "r").exists()
