"""A Dask worker preload (``distributed.worker.preload``; ``dask worker --preload geo_service.batch.preload``):
imports what batch tasks use when the worker process starts, so that a fresh worker's first task does not.

Dask runs a preload module's top level (and its ``dask_setup``) in each worker process before the worker takes
tasks: start workers with ``--preload geo_service.batch.preload`` (or ``distributed.worker.preload``);
``bench/capacity.py`` does, for both sides. Only imports happen here
(nothing reads the database or builds a window): what a long-lived worker pays once anyway.
"""

from __future__ import annotations

import pyarrow.parquet  # noqa: F401  (input parts and the GeoParquet parts written)
import pyproj  # noqa: F401  (the CRS of the GeoParquet metadata)
import scipy.ndimage  # noqa: F401  (labels a window's lattice: ~0.3-0.6 CPU s, paid by a fresh worker's first build)

import geo_service.batch.jobs
import geo_service.locate.index
import geo_service.store.batch  # noqa: F401
