"""``geo-service import-osm``: one extract in, one transaction out.

Stages: check the file's structure (a truncated or foreign file stops here, before anything is written),
parse with pyrosm (:mod:`geo_service.osm.extract`), then replace the dataset's rows in one transaction.
Each stage shows a progress bar on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from geo_service.db.pool import Database
from geo_service.geocode import index as geocode_index
from geo_service.i18n import cli_text as _label
from geo_service.osm import rules
from geo_service.osm.extract import Extract, read_extract
from geo_service.osm.pbf import check_pbf
from geo_service.settings import ImportSettings
from geo_service.store import datasets

if TYPE_CHECKING:
    from geo_service.walking import Components


@dataclass(frozen=True)
class ImportReport:
    name: str
    path: Path
    seconds: float
    counts: dict[str, int]
    facilities_by_category: dict[str, int]
    components: Components
    #: wall seconds per phase in the order run (``check``, ``parse: …``, ``derive: …``, ``write: …``): what the
    #: import spends beyond loading raw tables
    phases: dict[str, float] = field(default_factory=dict)

    def describe(self, language: str) -> str:
        """One line for the command line, in ``language``."""
        from geo_service.i18n import translate

        comps = self.components
        return translate(
            "cli.osm.imported",
            language,
            {
                "file": self.path.name,
                "name": self.name,
                "seconds": f"{self.seconds:.1f}",
                "counts": ", ".join(f"{k} {v:,}" for k, v in self.counts.items()),
                "pieces": comps.get("count", 0),
                "share": f"{comps.get('largest_share', 0):.1%}",
            },
        )


class Phases:
    """Wall seconds per phase: :meth:`start` ends the running phase and starts the next."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._label: str | None = None
        self._started = 0.0

    def start(self, label: str | None) -> None:
        now = time.perf_counter()
        if self._label is not None:
            self.seconds[self._label] = self.seconds.get(self._label, 0.0) + now - self._started
        self._label, self._started = label, now

    def stop(self) -> dict[str, float]:
        self.start(None)
        return self.seconds


def dataset_name(path: Path) -> str:
    name = Path(path).name
    for suffix in (".osm.pbf", ".pbf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def import_osm(
    db: Database,
    path: Path,
    name: str | None = None,
    settings: ImportSettings | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import an OpenStreetMap extract as dataset ``name`` (default: the file name), replacing it if present."""
    settings = settings or ImportSettings()
    path = Path(path)
    name = name or dataset_name(path)
    started = time.perf_counter()
    phases = Phases()
    phases.start("check")
    check_pbf(path)
    facility_rules = rules.FacilityRules.load(settings.facility_rules)

    # labels only when shown: the first one loads every message catalogue (~0.2 s)
    with tqdm(
        total=7,
        desc=_label("progress.osm.read") if progress else "",
        unit="stage",
        disable=not progress,
        file=sys.stderr,
    ) as bar:

        def step(label: str) -> None:
            if bar.n or label != "walking network":
                bar.update(1)
            bar.set_postfix_str(label)

        extract = read_extract(path, settings, facility_rules, step, phases.start)
        bar.update(bar.total - bar.n)

    _write(db, name, path, extract, progress, phases.start)
    phases.stop()
    by_category = extract.facilities["category"].value_counts().to_dict() if len(extract.facilities) else {}
    return ImportReport(
        name=name,
        path=path,
        seconds=time.perf_counter() - started,
        counts=extract.counts(),
        facilities_by_category={str(k): int(v) for k, v in by_category.items()},
        components=extract.components,
        phases=phases.seconds,
    )


def _write(
    db: Database, name: str, path: Path, extract: Extract, progress: bool, phase: Callable[[str], None]
) -> None:
    stages = [
        (
            "walking network",
            len(extract.nodes) + len(extract.edges),
            lambda cur, tick: datasets.copy_walk_network(cur, name, extract.nodes, extract.edges, tick),
        ),
        (
            "residences",
            len(extract.residences),
            lambda cur, tick: datasets.copy_residences(cur, name, extract.residences, tick),
        ),
        (
            "facilities",
            len(extract.facilities),
            lambda cur, tick: datasets.copy_facilities(cur, name, extract.facilities, tick),
        ),
        ("areas", len(extract.areas), lambda cur, tick: datasets.copy_areas(cur, name, extract.areas, tick)),
        (
            "gazetteer",
            len(extract.gazetteer),
            lambda cur, tick: datasets.copy_gazetteer(cur, name, extract.gazetteer, tick),
        ),
        (
            "basemap",
            len(extract.basemap),
            lambda cur, tick: datasets.copy_basemap(cur, name, extract.basemap, tick),
        ),
    ]
    stats: datasets.DatasetStats = {"counts": extract.counts(), "components": extract.components}
    phase("write: previous rows dropped")
    with db.connection() as conn, conn.cursor() as cur:
        datasets.drop_dataset(cur, name)
        datasets.insert_dataset(cur, name, str(path.resolve()), extract.srid, extract.bbox, stats)
        for label, total, write in stages:
            phase(f"write: COPY {label}")
            label_text = _label("progress.osm.write", label=label) if progress else ""
            with tqdm(total=total, desc=label_text, unit="row", disable=not progress, file=sys.stderr) as bar:
                write(cur, bar.update)
        phase("write: households, geocoder keys")
        datasets.restore_reported_households(cur, name)
        # facilities and areas came in through triggers, without keys: key them before anyone searches
        with tqdm(
            desc=_label("progress.osm.names") if progress else "",
            unit="name",
            disable=not progress,
            file=sys.stderr,
        ) as bar:
            geocode_index.key_pending(cur, bar.update)
        phase("write: ANALYZE, commit")
        # the service role owns no table: analyze_tables (owned by the schema owner) runs ANALYZE for it
        cur.execute(
            "SELECT analyze_tables(%s)", (["walk_edges", "residences", "facilities", "basemap_features"],)
        )
