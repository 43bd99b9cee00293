"""A two-worker LocalCluster (separate processes) shared by the batch tests, over the Helsinki demo city."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geo_service.batch.jobs import WORKER_PRELOAD, worker_config
from geo_service.db.pool import Database


@pytest.fixture(scope="module")
def city(demo_grids_db: Database) -> Database:
    return demo_grids_db


@pytest.fixture(scope="module")
def dask_client(city: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Workers know the database from their own environment, as in a deployment (jobs of the command line
    name no database; the library's tests pass ``dsn`` explicitly). Their home is the module's own, so the
    windows they keep on disk (``GEO_SERVICE_HOME/cache/batch``) start empty and go with the test run.

    Worker processes are forked from a fork server that imported what batch tasks use (Dask's ``forkserver``
    method, the batch preload added to its list): each new worker, the module's first two and the two
    ``client.restart()`` makes, is a fresh process with nothing computed in memory, as with Dask's default
    ``spawn``, without importing pandas, dask, shapely and the service again (~2.3 CPU s a worker)."""
    import multiprocessing

    import dask
    from distributed import Client, LocalCluster
    from distributed.utils import get_mp_context

    with dask.config.set(
        # as `geo-service batch` starts its own (the preload among them), the workers forked
        {**worker_config(), "distributed.worker.multiprocessing-method": "forkserver"}
    ):
        get_mp_context()  # Dask's own preload list (distributed, numpy, pandas...), then the service's with it
        multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", WORKER_PRELOAD])
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit="2GiB",
                env={
                    "GEO_SERVICE_DATABASE_URL": city.dsn,
                    "GEO_SERVICE_HOME": str(tmp_path_factory.mktemp("batch-home")),
                },
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
