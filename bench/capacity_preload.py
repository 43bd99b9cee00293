"""Dask worker preload of ``bench/capacity.py``: the peer's modules, imported when each worker starts, as
``geo_service.batch.preload`` imports ours (``distributed.worker.preload`` names both), so neither side's
first job pays imports that a long-lived worker pays once.

dask-geopandas ``sjoin`` uses geopandas (its ``sjoin`` and GeoParquet writer), shapely's STRtree, pyarrow and
pyproj; ``geo_service.batch.preload`` imports several of these too (``geo_service.batch.jobs`` imports
dask-geopandas): importing them again costs nothing.
"""

from __future__ import annotations

import dask_geopandas  # noqa: F401
import geopandas
import geopandas.io.arrow
import geopandas.tools.sjoin  # noqa: F401
import pyarrow.parquet  # noqa: F401
import pyproj  # noqa: F401
