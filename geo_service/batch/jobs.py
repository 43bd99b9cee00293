"""Batch locate and batch reach on a ``dask.distributed`` cluster.

The input (CSV, Parquet or GeoParquet) is read in blocks; every point gets the Hilbert number of its cell
(:mod:`geo_service.batch.partition`) and the points are shuffled so that each cell is whole in one partition.
A task walks its partition cell by cell: it reads, in one snapshot of the database, the areas (locate) or the
walking network, and facilities of the category (reach) inside the cell's box — widened by the walking limit
for reach — builds the service's own :class:`~geo_service.locate.index.LocateIndex` or
:class:`~geo_service.walking.network.WalkNetwork` from those rows, and answers with
:mod:`geo_service.batch.compute`. Memory per task is bounded by the input block size and the cell size, not
by the input. Every task checks that the data revisions are those the job started from (a job never mixes
two versions of the grids or the network). The output is GeoParquet (a folder of parts, WGS-84 points),
rows in spatial order; ``input_order`` sorts them back into the input's order.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import dask_geopandas  # also registers GeoDataFrame partitions with Dask
import numpy as np
import pandas as pd

from geo_service.batch import compute
from geo_service.batch.cache import (
    Sized,
    busy,
    default_root,
    shared_build,
    sized,
    window_folder,
    worker_cache,
)
from geo_service.batch.errors import BatchError
from geo_service.batch.partition import cell_box, cell_groups, check_cell_deg, grow_box
from geo_service.coords import normalise_crs, to_wgs84_arrays
from geo_service.db.pool import Database
from geo_service.locate.lattice import sorted_unique
from geo_service.settings import DatabaseSettings, LocateSettings, WalkingSettings
from geo_service.store import batch as store
from geo_service.store import network as revision_store

_LON, _LAT = "_lon", "_lat"
INPUT_ORDER = "input_order"
_PARTITION_SHIFT = 32  # input_order = partition number << 32 | row within the input partition


# A window's locate index serves one job, not a server's lifetime: a lattice 10× coarser than the service's
# builds about 5× faster (2,352 grids: 1.7 s against 7.8 s) and answers the same — points in boundary cells
# are tested exactly either way — at about the same cost per point.
BATCH_CELLS_PER_POLYGON = 100.0


@dataclass(frozen=True)
class JobSummary:
    """What a job wrote: rows, parts (files) and the data revisions it answered from."""

    rows: int
    parts: int
    revisions: dict[str, int]
    seconds: float


# Set in a worker process's environment before it starts (Dask's ``distributed.nanny.pre-spawn-environ``):
# Dask sets MALLOC_TRIM_THRESHOLD_, which turns off glibc's adaptive mmap threshold, so every array over 128 kB
# is mapped fresh and unmapped when freed, page faults and all, task after task (1 M points: 0.21 system CPU s
# against 0.05, ~6× the page faults). Arrays up to 32 MiB come from the heap again.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


# Dask's worker preload (``dask worker --preload geo_service.batch.preload``, or ``distributed.worker.preload``):
# imports what tasks use when a worker starts rather than in its first task.
WORKER_PRELOAD = "geo_service.batch.preload"

# How long a LocalCluster (any SpecCluster) waits for a worker that left to come back before it closes the
# worker's nanny for good. Dask's 15 s default is shorter than a restarted worker's start on a loaded machine
# once the preload's imports are in it (~2 CPU s: 8-20 s of wall time at load 8-15): the check, made 15 s
# after the worker left, found no worker of that name and closed the nanny, which then never started the new
# one — ``client.restart()`` waited for workers that could not come (tests/batch/test_jobs.py, 120 s). The
# same check ran 15 s after an earlier restart fires in the middle of a later one. A worker that dies for good
# still ends with its nanny, only later.
LOST_WORKER_TIMEOUT = "300s"


def worker_config() -> dict[str, Any]:
    """The ``dask.config`` entries a local cluster and its workers should start with (``with dask.config.set(...)``
    around the creation of a ``LocalCluster``; on a cluster of your own, the same in its configuration): the
    worker environment above, the preload, a lost worker's nanny kept while the worker restarts, and no
    statistical profiler (Dask samples every worker thread's stack every 10 ms for a dashboard that
    ``geo-service batch``'s local cluster does not serve: ~0.01 CPU s per second per worker)."""
    return {
        **{f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_ENVIRON.items()},
        "distributed.worker.preload": [WORKER_PRELOAD],
        "distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT,
        "distributed.worker.profile.enabled": False,
    }


# -- the database, on a worker -----------------------------------------------------------------------------

_POOLS: dict[str | None, Database] = {}
_POOLS_LOCK = threading.Lock()


def _database(dsn: str | None) -> Database:
    """One small pool per worker process: ``dsn`` when the job names one, else the worker's own
    ``GEO_SERVICE_DATABASE_*`` settings (reads go to the standby when there is one)."""
    with _POOLS_LOCK:
        db = _POOLS.get(dsn)
        if db is None:
            if dsn is None:
                db = Database.from_settings(DatabaseSettings(), start=False)
            else:
                db = Database(dsn, max_size=2)
            _POOLS[dsn] = db
        return db


def _state(dsn: str | None, entities: tuple[str, ...]) -> tuple[dict[str, int], str]:
    """The revisions a job answers from and the string naming that state (:func:`store.data_state`)."""
    with _database(dsn).for_reading().cursor(dict_rows=False) as cur:
        return store.data_state(cur, entities)


def _kept(kind: str, state: str, windows_dir: str | None, keep: bool) -> Path | None:
    """The folder this worker keeps the windows of ``state`` in (None: not kept)."""
    if not keep:
        return None
    root = Path(windows_dir) if windows_dir is not None else default_root()
    return window_folder(root, f"{kind}|{state.split('|', 1)[0]}", state)


def _check(found: dict[str, int], expected: dict[str, int]) -> None:
    if found != expected:
        changed = ", ".join(k for k in expected if found.get(k) != expected[k])
        raise BatchError("batch.data_changed", entities=changed)


# -- input -------------------------------------------------------------------------------------------------


def _is_geoparquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    first = path if path.is_file() else next(iter(sorted(path.rglob("*.parquet"))), None)
    if first is None:
        raise BatchError("batch.no_input_parts", path=str(path))
    metadata = pq.read_schema(first).metadata or {}
    return b"geo" in metadata


def _with_lonlat(
    frame: pd.DataFrame,
    lon_column: str,
    lat_column: str,
    crs: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """WGS-84 ``_lon``/``_lat`` from the input's columns (unparseable: NaN), the cell number, the input order."""
    lon, lat = (
        frame[c].to_numpy(np.float64)
        if frame[c].dtype == np.float64
        else pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        for c in (lon_column, lat_column)
    )
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    wlon, wlat = np.full(len(lon), np.nan), np.full(len(lat), np.nan)
    if ok.any():
        wlon[ok], wlat[ok] = to_wgs84_arrays(lon[ok], lat[ok], crs)
    number = 0 if partition_info is None else int(partition_info["number"])
    out = frame.copy(deep=False)  # new columns only: the input block is not changed
    out[INPUT_ORDER] = (np.int64(number) << _PARTITION_SHIFT) + np.arange(len(frame), dtype=np.int64)
    out[_LON], out[_LAT] = wlon, wlat
    return out


def _from_geometry(frame: Any) -> pd.DataFrame:
    """Point coordinates of a GeoParquet partition (WGS-84) as ``lon``/``lat`` columns; geometry dropped."""
    geometry = frame.geometry
    if geometry.crs is not None and geometry.crs.to_epsg() != 4326:
        geometry = geometry.to_crs(4326)
    points = geometry.representative_point() if len(geometry) else geometry
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["lon"] = points.x.to_numpy() if len(geometry) else np.empty(0)
    out["lat"] = points.y.to_numpy() if len(geometry) else np.empty(0)
    return out


def _parquet_files(source: Path) -> list[Path]:
    return [source] if source.is_file() else sorted(source.rglob("*.parquet"))


def _row_slices(source: Path, blocksize: str) -> list[tuple[str, int, int, int]] | None:
    """``(file, row group, first row, end row)`` slices of about ``blocksize`` bytes (uncompressed) each when
    some row group holds more than that, so that one huge row group (a file written in one piece) is several
    partitions, not one; None when every row group fits (Dask's own reader then: a partition per row group
    or file)."""
    import pyarrow.parquet as pq
    from dask.utils import parse_bytes

    limit = parse_bytes(blocksize)
    pieces: list[tuple[str, int, int, int]] = []
    split = False
    for path in _parquet_files(source):
        metadata = pq.read_metadata(path)
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            row_bytes = max(1, metadata.row_group(group).total_byte_size // max(1, rows))
            step = max(1, limit // row_bytes)
            split = split or rows > step
            pieces.extend(
                (str(path), group, start, min(rows, start + step)) for start in range(0, rows, step)
            )
    return pieces if split and pieces else None


def _read_rows(piece: tuple[str, int, int, int], geo: bool = False) -> pd.DataFrame:
    """Rows ``[first, end)`` of one row group, streamed in batches: memory holds about one slice (and a read
    buffer), whatever the row group's size. The rows before the slice are decoded and dropped (Parquet has
    no row offset within a row group): a file of n slices decodes n(n+1)/2 slices in all, cheap next to
    locating them (a million rows of three numbers: ~10 ms)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, group, first, end = piece
    batches, seen = [], 0
    with pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False) as reader:
        schema = reader.schema_arrow
        for batch in reader.iter_batches(batch_size=65_536, row_groups=[group], use_threads=False):
            start, stop = max(first, seen), min(end, seen + batch.num_rows)
            if stop > start:
                batches.append(batch.slice(start - seen, stop - start))
            seen += batch.num_rows
            if seen >= end:
                break
    return _to_frame(pa.Table.from_batches(batches, schema=schema), geo)


def _to_frame(table: Any, geo: bool) -> pd.DataFrame:
    """A Parquet table as pandas; GeoParquet (the file's ``geo`` metadata) as the points' lon/lat."""
    if not geo:
        return table.to_pandas()
    from geopandas.io.arrow import (
        _arrow_to_geopandas,
    )  # GeoParquet's metadata and encodings, as geopandas reads

    return _from_geometry(_arrow_to_geopandas(table))


def _read_slices(pieces: list[tuple[str, int, int, int]], geo: bool = False) -> dd.DataFrame:
    import pyarrow.parquet as pq

    meta = _to_frame(pq.read_schema(pieces[0][0]).empty_table(), geo)
    return dd.from_map(partial(_read_rows, geo=geo), pieces, meta=meta, enforce_metadata=False)


def read_points(
    source: Path,
    *,
    lon_column: str = "lon",
    lat_column: str = "lat",
    crs: str | None = "wgs84",
    blocksize: str = "64MB",
) -> dd.DataFrame:
    """The points of a CSV, Parquet or GeoParquet file (or folder of parts) as a Dask DataFrame with WGS-84
    ``_lon``/``_lat`` and ``input_order``. CSV columns other than the coordinates are read as text.
    GeoParquet points are taken from the geometry (any CRS; ``crs`` is ignored)."""
    source = Path(source)
    if not source.exists():
        raise BatchError("batch.no_such_input", path=str(source))
    name = source.name.lower()
    crs = normalise_crs(crs)
    if name.endswith((".csv", ".csv.gz", ".txt")):
        frame = dd.read_csv(
            str(source),
            dtype=str,
            blocksize=None if name.endswith(".gz") else blocksize,
            keep_default_na=False,
        )
    elif name.endswith((".parquet", ".geoparquet", ".pq")) or source.is_dir():
        pieces = _row_slices(source, blocksize)
        if _is_geoparquet(source):
            if pieces is None:
                frame = dask_geopandas.read_parquet(str(source)).map_partitions(_from_geometry)
            else:
                frame = _read_slices(pieces, geo=True)
            lon_column, lat_column, crs = "lon", "lat", "wgs84"
        else:
            frame = dd.read_parquet(str(source)) if pieces is None else _read_slices(pieces)
    else:
        raise BatchError("batch.unknown_format", path=str(source))
    missing = [c for c in (lon_column, lat_column) if c not in frame.columns]
    if missing:
        raise BatchError(
            "batch.missing_columns", columns=", ".join(missing), found=", ".join(map(str, frame.columns))
        )
    clash = [
        c
        for c in frame.columns
        if c in {INPUT_ORDER, "geometry", _LON, _LAT}
        or c in compute.LOCATE_COLUMNS
        or c in compute.REACH_COLUMNS
    ]
    if clash:
        raise BatchError("batch.reserved_columns", columns=", ".join(map(str, clash)))
    return frame.map_partitions(_with_lonlat, lon_column, lat_column, crs)


_CRS84 = None


def _geo_metadata(lon: np.ndarray, lat: np.ndarray) -> bytes:
    """GeoParquet 1.0 metadata for a WKB point column in WGS-84 lon/lat."""
    global _CRS84
    if _CRS84 is None:
        import pyproj

        _CRS84 = pyproj.CRS.from_epsg(4326).to_json_dict()
    ok = np.isfinite(lon) & np.isfinite(lat)
    bbox = (
        [float(lon[ok].min()), float(lat[ok].min()), float(lon[ok].max()), float(lat[ok].max())]
        if ok.any()
        else []
    )
    column = {"encoding": "WKB", "geometry_types": ["Point"], "crs": _CRS84}
    if bbox:
        column["bbox"] = bbox
    return json.dumps(
        {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": column}}
    ).encode()


def _wkb_points(lon: np.ndarray, lat: np.ndarray) -> Any:
    """WKB points (little-endian, 21 bytes each) built in one pass; null where a coordinate is not finite."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = lon.shape[0]
    record = np.empty(n, dtype=np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")]))
    record["order"], record["type"], record["x"], record["y"] = 1, 1, lon, lat
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    array = pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(record.tobytes())]
    )
    valid = np.isfinite(lon) & np.isfinite(lat)
    return array if valid.all() else pc.if_else(pa.array(valid), array, pa.scalar(None, pa.binary()))


def _write_part(frame: pd.DataFrame, columns: dict[str, Any], target: Path, number: int) -> pd.DataFrame:
    """Write one partition as a GeoParquet part (input columns, answers, WGS-84 points); its row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.drop(columns=[_LON, _LAT]), preserve_index=False)
    for name, column in columns.items():
        table = table.append_column(name, column if isinstance(column, pa.Array) else pa.array(column))
    lon, lat = frame[_LON].to_numpy(), frame[_LAT].to_numpy()
    table = table.append_column("geometry", _wkb_points(lon, lat))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": _geo_metadata(lon, lat)})
    text = [name for name, column in columns.items() if isinstance(column, pa.DictionaryArray)]
    # Dictionaries only where the values repeat (area codes and names); statistics only on the numbers: on a
    # million unique WKB values, or text columns (min/max over decoded strings), they cost more than the
    # locating (statistics on the text: 0.36 of 0.80 CPU s per million rows written). Snappy, the codec
    # geopandas and pandas write by default: zstd (level 1) took 0.24 CPU s to write a million rows against
    # 0.16, for files 25 % smaller (34 MB against 45 MB; lon, lat and the points barely compress).
    pq.write_table(
        table,
        Path(target) / f"part.{number:05d}.parquet",
        compression="snappy",
        use_dictionary=text,
        write_statistics=[name for name in table.column_names if name != "geometry" and name not in text],
    )
    return pd.DataFrame({"rows": [len(frame)]}, dtype="int64")


_COUNT_META = pd.DataFrame({"rows": pd.Series([], dtype="int64")})


class _Coded:
    """The located areas of a partition, gathered window by window, and from them the dictionary-coded text
    columns of the answers.

    Each point keeps one number, its area's among the areas of every window the partition used (-1: none);
    a text column is then one gather of that column's small per-area table, the values (codes and names) a
    dictionary of the distinct texts the partition uses: no Python string per row, and one pass over the rows
    per column instead of several (gather, renumber across windows, prune the unused values, write).
    """

    def __init__(self, n: int) -> None:
        self.owners = np.full(n, -1, np.int32)
        self.tables: list[compute.Hierarchy] = []
        self.areas = 0

    def put(self, rows: np.ndarray, owners: np.ndarray, table: compute.Hierarchy) -> None:
        """The owners of ``rows`` (:func:`compute.locate_owners` on the window of ``table``)."""
        count = int(table.offsets[-1])
        self.owners[rows] = np.where(owners < count, owners + self.areas, -1)
        self.tables.append(table)
        self.areas += count

    def columns(self, names: tuple[str, ...]) -> dict[str, Any]:
        import pyarrow as pa

        used = np.zeros(self.areas + 1, dtype=bool)
        used[self.owners] = True  # -1 marks the spare last slot
        used_areas = np.flatnonzero(used[:-1])
        out = {}
        for name in names:
            # per area of the partition, the position of its text among the column's values (-1: none)
            positions, values, first = [], [], 0
            for table in self.tables:
                own = table.positions[name][:-1]
                positions.append(np.where(own >= 0, own + first, -1))
                values.append(table.values[name])
                first += len(table.values[name])
            every = np.concatenate([*positions, [-1]]).astype(np.int32)
            texts = np.concatenate(values) if values else np.empty(0, dtype=object)
            # the texts the rows use, renumbered in a small table (a text two windows hold stays twice in the
            # dictionary: Parquet's writer keeps one; comparing numbers here, not strings, is the cheap part)
            referenced = every[used_areas]
            kept = sorted_unique(referenced[referenced >= 0])
            renumber = np.full(len(texts) + 1, -1, np.int32)
            renumber[kept] = np.arange(len(kept), dtype=np.int32)
            indices = renumber[every][self.owners]  # the one pass over the rows
            missing = indices < 0
            array = pa.array(indices, mask=missing) if missing.any() else pa.array(indices)
            out[name] = pa.DictionaryArray.from_arrays(array, pa.array(texts[kept], pa.string()))
        return out


def _windows(
    frame: pd.DataFrame, window_deg: float, partition_info: dict[str, Any] | None
) -> list[tuple[int, np.ndarray]]:
    """Row positions of each window of a partition, windows in Hilbert order — reversed in every other
    partition, so that a worker's next task starts on the windows its last one ended with (still cached when
    the cache cannot hold them all) and two workers starting together build different windows first.

    Points are not shuffled across the cluster first: each window's index is built once per worker (the
    cache of :mod:`geo_service.batch.cache`) whatever the order of the input, and moving every point cost
    more than all the answering (1 M points on two workers: 15 s of shuffle, 3 s of locating).
    """
    windows = cell_groups(frame[_LON].to_numpy(), frame[_LAT].to_numpy(), window_deg)
    if int((partition_info or {}).get("number", 0)) % 2:
        windows.reverse()
    return windows


def _in_turn(
    windows: list[tuple[int, np.ndarray]], building: Callable[[np.ndarray], bool]
) -> Iterator[np.ndarray]:
    """The rows of each window, those of a window another process is building right now (``building(rows)``)
    put off until the others are done: by then it is usually written and loaded, not waited for.

    Two workers starting on blocks that cover the same windows otherwise go in lock-step, one building each
    window while the other waits for it (10 M homes, cold: the first task of each worker took 45 s, of which
    one spent 2 CPU s); putting off a window makes them build different windows side by side.
    """
    later = []
    for _, rows in windows:
        if building(rows):
            later.append(rows)
        else:
            yield rows
    yield from later


# -- locate ------------------------------------------------------------------------------------------------


def _locate_key(box: store.Box, settings: LocateSettings) -> tuple[Any, ...]:
    """What a locate window is, within one data state (its key in the windows kept on disk)."""
    return ("locate", box, settings.cells_per_polygon, settings.max_cells)


def _locate_index(
    dsn: str | None,
    box: store.Box,
    expected: dict[str, int],
    settings: LocateSettings,
    shared: Path | None,
) -> Any:
    """The service's locate index over the areas touching ``box``, read in one snapshot at the job's revision
    (built by one process and loaded by every other, of this job or a later one, when ``shared`` names the
    folder of the revision's windows)."""

    def build() -> Sized[tuple[compute.WindowIndex, compute.Hierarchy]]:
        with _database(dsn).for_reading().cursor() as cur:
            store.repeatable_read(cur)
            revision, area_rows = store.areas_window(cur, box)
        _check({"areas": revision}, expected)
        index = compute.WindowIndex(revision, area_rows, settings)
        return sized((index, compute.hierarchy(index)))

    window = shared_build(shared, _locate_key(box, settings), build)
    window.value[0].prepare()  # lost in the pickle of a shared window: GEOS's fast point tests need it
    return window


def _locate_partition(
    frame: pd.DataFrame,
    dsn: str | None,
    window_deg: float,
    expected: dict[str, int],
    state: str,
    settings: LocateSettings,
    cache_bytes: int,
    keep: bool,
    windows_dir: str | None,
    target: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    n = len(frame)
    shared = _kept("locate", state, windows_dir, keep) if n else None
    coded = _Coded(n)
    lon, lat = frame[_LON].to_numpy(), frame[_LAT].to_numpy()
    windows = worker_cache(cache_bytes)

    def box_of(rows: np.ndarray) -> store.Box:
        # a hair wider than the window: a point on its edge may belong to an area just across it
        return grow_box(cell_box(float(lon[rows[0]]), float(lat[rows[0]]), window_deg), 0.01)

    def building(rows: np.ndarray) -> bool:
        key = _locate_key(box_of(rows), settings)
        return not windows.holds("locate", (dsn, state, *key)) and busy(shared, key)

    for rows in _in_turn(_windows(frame, window_deg, partition_info), building) if n else []:
        box = box_of(rows)
        index, table = windows.get(
            "locate",
            (dsn, state, *_locate_key(box, settings)),
            partial(_locate_index, dsn, box, expected, settings, shared),
        )
        coded.put(rows, compute.locate_owners(index, lon[rows], lat[rows], table), table)
    if not n:
        return _COUNT_META
    columns = coded.columns(compute.LOCATE_COLUMNS)
    return _write_part(frame, columns, Path(target), int((partition_info or {}).get("number", 0)))


def batch_locate(
    client: Any,
    source: Path,
    target: Path,
    *,
    dsn: str | None = None,
    crs: str | None = "wgs84",
    lon_column: str = "lon",
    lat_column: str = "lat",
    window_deg: float = 0.5,
    cache_mb: int = 1024,
    share_windows: bool = True,
    windows_dir: Path | None = None,
    blocksize: str = "64MB",
    progress: bool = True,
    overwrite: bool = False,
) -> JobSummary:
    """Locate every point of ``source`` on the cluster of ``client`` and write GeoParquet to ``target``.

    Each output row carries the input's columns, ``input_order``, ``grid_code``/``grid_name`` and the
    community, street and district codes and names (see :func:`geo_service.batch.compute.locate_points`),
    and the point (WGS-84) as geometry.

    Parameters
    ----------
    dsn
        The database for the workers; None: each worker's own ``GEO_SERVICE_DATABASE_*`` settings.
    window_deg
        Side of a window, degrees: a worker builds the locate index of the areas touching a window once and
        answers every point of the window from it.
    cache_mb
        Bound on the built windows a worker keeps (estimated MB; :mod:`geo_service.batch.cache`).
    share_windows
        Keep built windows on disk, one folder per revision of the areas: one process builds a window and
        every other, of this job or a later one, loads it; False: every worker builds its own, every job.
    windows_dir
        Where windows are kept; None: each worker's ``GEO_SERVICE_HOME/cache/batch``.
    """
    check_target(target, overwrite)
    _check_cache_mb(cache_mb)
    started = time.monotonic()
    expected, state = _state(dsn, ("areas",))
    points = read_points(source, lon_column=lon_column, lat_column=lat_column, crs=crs, blocksize=blocksize)
    check_cell_deg(window_deg)
    _prepare_target(target)
    service = LocateSettings()
    settings = service.model_copy(
        update={"cells_per_polygon": min(service.cells_per_polygon, BATCH_CELLS_PER_POLYGON)}
    )
    located = points.map_partitions(
        _locate_partition,
        dsn,
        window_deg,
        expected,
        state,
        settings,
        cache_mb << 20,
        share_windows,
        None if windows_dir is None else str(windows_dir),
        str(target),
        meta=_COUNT_META,
    )
    return _run(client, located, target, expected, started, progress)


def _check_cache_mb(cache_mb: int) -> None:
    if not 16 <= cache_mb <= 1 << 20:
        raise BatchError("batch.cache_size", value=cache_mb, low=16, high=1 << 20)


# -- reach -------------------------------------------------------------------------------------------------


def _reach_window(
    dsn: str | None,
    window: store.Box,
    expected: dict[str, int],
    category: str,
    limit_m: float,
    walking: WalkingSettings,
    shared: Path | None = None,
) -> Any:
    """The walking network and the category's facilities around ``window``, read in one snapshot at the job's
    revisions, with the reach engine's search from every facility already run (built by one worker of the
    job and loaded by every other, of this job or a later one, when ``shared`` names the folder of the
    revisions' windows: a window of the synthetic province, ~140,000 nodes, takes ~3 CPU s here and as much
    in the database to build, 0.01 s to load)."""
    build = partial(_build_reach_window, dsn, window, expected, category, limit_m, walking)
    return shared_build(shared, _reach_key(window, category, limit_m, walking), lambda: sized(build()))


def _reach_key(window: store.Box, category: str, limit_m: float, walking: WalkingSettings) -> tuple[Any, ...]:
    """What a reach window is, within one data state (its key in the windows kept on disk)."""
    return ("reach", window, category, limit_m, walking.max_snap_m, walking.steps_factor)


def _build_reach_window(
    dsn: str | None,
    window: store.Box,
    expected: dict[str, int],
    category: str,
    limit_m: float,
    walking: WalkingSettings,
) -> Any:
    from geo_service.walking import WalkNetwork, graph_from_snapshot

    snap_m = walking.max_snap_m
    # Every path within the limit from a home of the window (snapped within snap_m) stays inside the window
    # widened by limit + snap; its facility lies within one more snap, and that facility's nearest edge
    # within one more: so these rows answer exactly as the whole network does.
    facility_box = grow_box(window, limit_m + 2 * snap_m)
    edge_box = grow_box(window, limit_m + 3 * snap_m)
    with _database(dsn).for_reading().cursor(dict_rows=False) as cur:
        store.repeatable_read(cur)
        found = revision_store.revisions(cur, tuple(expected))
        datasets = store.network_window(cur, edge_box)
        facility_rows = store.facilities_window(cur, facility_box, category)
    _check(found, expected)
    network = WalkNetwork(found["network"], [graph_from_snapshot(d, walking.steps_factor) for d in datasets])
    return compute.reach_window(network, facility_rows, category, limit_m=limit_m, max_snap_m=snap_m)


def _reach_partition(
    frame: pd.DataFrame,
    dsn: str | None,
    window_deg: float,
    expected: dict[str, int],
    state: str,
    category: str,
    speed_mps: float,
    limit_m: float,
    walking: WalkingSettings,
    cache_bytes: int,
    keep: bool,
    windows_dir: str | None,
    target: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    n = len(frame)
    shared = _kept("reach", state, windows_dir, keep) if n else None
    columns = {name: np.full(n, np.nan) for name in compute.REACH_COLUMNS}
    columns["facility_id"] = np.full(n, -1, np.int64)
    lon, lat = frame[_LON].to_numpy(), frame[_LAT].to_numpy()
    windows = worker_cache(cache_bytes)

    def building(rows: np.ndarray) -> bool:
        key = _reach_key(
            cell_box(float(lon[rows[0]]), float(lat[rows[0]]), window_deg), category, limit_m, walking
        )
        return not windows.holds("reach", (dsn, state, *key)) and busy(shared, key)

    for rows in _in_turn(_windows(frame, window_deg, partition_info), building) if n else []:
        window = cell_box(float(lon[rows[0]]), float(lat[rows[0]]), window_deg)
        reach = windows.get(
            "reach",
            (dsn, state, *_reach_key(window, category, limit_m, walking)),
            partial(_reach_window, dsn, window, expected, category, limit_m, walking, shared),
        )
        got = compute.reach_answers(
            reach,
            category,
            lon[rows],
            lat[rows],
            speed_mps=speed_mps,
            limit_m=limit_m,
            max_snap_m=walking.max_snap_m,
        )
        for name, values in got.items():
            columns[name][rows] = values
    if not n:
        return _COUNT_META
    return _write_part(frame, columns, Path(target), int((partition_info or {}).get("number", 0)))


def reach_limit_m(max_minutes: float, speed_mps: float) -> float:
    """The search limit (effective metres) for ``max_minutes`` of walking."""
    return max_minutes * 60.0 * speed_mps


def batch_reach(
    client: Any,
    source: Path,
    target: Path,
    category: str,
    *,
    dsn: str | None = None,
    crs: str | None = "wgs84",
    lon_column: str = "lon",
    lat_column: str = "lat",
    speed_kmh: float | None = None,
    max_minutes: float = 30.0,
    window_deg: float = 0.25,
    cache_mb: int = 2048,
    share_windows: bool = True,
    windows_dir: Path | None = None,
    blocksize: str = "64MB",
    progress: bool = True,
    overwrite: bool = False,
) -> JobSummary:
    """Walking time from every home of ``source`` to the nearest live facility of ``category``.

    Output columns: the input's, ``input_order``, ``walk_seconds`` and ``walk_distance_m`` (NaN when none is
    within ``max_minutes``), ``facility_id`` (-1 none), ``snap_distance_m`` (NaN: farther than the snapping
    limit from every walkable edge), and the home (WGS-84) as geometry. ``share_windows`` and
    ``windows_dir``: as :func:`batch_locate`'s, one folder per revision of the network and the facilities.
    """
    from geo_service.walking import speed_mps as checked_speed

    walking = WalkingSettings()
    if not (math.isfinite(max_minutes) and 0 < max_minutes <= walking.max_minutes):
        raise BatchError("batch.max_minutes_range", value=max_minutes, upper=walking.max_minutes)
    check_target(target, overwrite)
    _check_cache_mb(cache_mb)
    started = time.monotonic()
    with _database(dsn).for_reading().cursor(dict_rows=False) as cur:
        known = store.categories(cur)
    if category not in known:
        raise BatchError("batch.unknown_category", category=category, known=", ".join(known))
    speed = checked_speed(speed_kmh, walking)
    limit_m = reach_limit_m(max_minutes, speed)
    expected, state = _state(dsn, ("network", "facilities"))
    points = read_points(source, lon_column=lon_column, lat_column=lat_column, crs=crs, blocksize=blocksize)
    check_cell_deg(window_deg)
    _prepare_target(target)
    reached = points.map_partitions(
        _reach_partition,
        dsn,
        window_deg,
        expected,
        state,
        category,
        speed,
        limit_m,
        walking,
        cache_mb << 20,
        share_windows,
        None if windows_dir is None else str(windows_dir),
        str(target),
        meta=_COUNT_META,
    )
    return _run(client, reached, target, expected, started, progress)


# -- output ------------------------------------------------------------------------------------------------


def check_target(target: Path, overwrite: bool) -> None:
    """Refuse to write over an existing file or a folder with something in it, unless asked to."""
    target = Path(target)
    if target.is_file() or (target.is_dir() and any(target.iterdir()) and not overwrite):
        raise BatchError("batch.target_exists", path=str(target))


def _prepare_target(target: Path) -> None:
    """An empty output folder: earlier parts of ours removed (check_target has refused anything else)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("part.*.parquet"):
        old.unlink()


def _run(
    client: Any, counts: dd.DataFrame, target: Path, revisions: dict[str, int], started: float, progress: bool
) -> JobSummary:
    """Run the job (each task writes its own part) with a progress bar; what it wrote."""
    from distributed import progress as progress_bar

    future = client.compute(counts)
    if progress:
        progress_bar(future)
    rows = int(future.result()["rows"].sum())
    parts = len(list(Path(target).glob("part.*.parquet")))
    return JobSummary(rows, parts, revisions, time.monotonic() - started)
