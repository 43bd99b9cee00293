"""A two-worker LocalCluster (separate processes) shared by the batch tests, over the Helsinki demo city."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geo_service.db.pool import Database


@pytest.fixture(scope="module")
def city(demo_grids_db: Database) -> Database:
    return demo_grids_db


@pytest.fixture(scope="module")
def dask_client(city: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Workers know the database from their own environment, as in a deployment (jobs of the command line
    name no database; the library's tests pass ``dsn`` explicitly). Their home is the module's own, so the
    windows they keep on disk (``GEO_SERVICE_HOME/cache/batch``) start empty and go with the test run."""
    import dask
    from distributed import Client, LocalCluster

    from geo_service.batch.jobs import worker_config

    with (
        dask.config.set(worker_config()),  # as `geo-service batch` starts its own: the preload among them
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
