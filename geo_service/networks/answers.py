"""What the network services answer: a network as listed and read, an import's report, the crosswalk to the
unified grids, re-keyed cells and points, and proposed unified grids (WGS-84 lon/lat; metres, m²).

Written once: the HTTP layer documents these typed dicts in ``/openapi.json`` as they are
(:mod:`geo_service.api.models.networks`). Cell properties are the department's own and stay open.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents these answers on Python 3.11

from geo_service.geojson import FeatureCollection, Geometry
from geo_service.grids.propose import PartitionSummary
from geo_service.i18n import Message


class NetworkVersion(TypedDict):
    version: int
    imported_at: str | None
    imported_by: str | None
    source: str | None
    crs: str | None
    cells: int
    closed_at: Annotated[str | None, Field(description="when the next version replaced it; null: current")]


class DepartmentNetwork(TypedDict):
    """A network as listed: its department, cells and version now, when imported, and its extent (WGS-84)."""

    name: str
    department: str | None
    cells: int
    version: int
    imported_at: str | None
    bbox: Annotated[list[float] | None, Field(description="[west, south, east, north]")]
    versions: NotRequired[list[NetworkVersion]]
    shown_version: NotRequired[int]
    links: NotRequired[dict[str, str]]  # added by the HTTP layer


class Networks(TypedDict):
    networks: list[DepartmentNetwork]


class NetworkCells(FeatureCollection):
    """The network's cells, with the network's summary and versions."""

    network: DepartmentNetwork


class CellProblem(TypedDict):
    """A cell an import refused (the 422's ``detail``)."""

    feature: int
    code: str | None
    problem: str
    message: Message
    location: Geometry | None  # a GeoJSON Point


class NetworkImport(TypedDict):
    """What an import did: 201 for a network's first version, 200 for the next ones."""

    name: str
    department: str | None
    version: int
    previous_version: int | None
    cells: int
    imported_at: str
    added: list[str]
    removed: list[str]
    changed: int
    unchanged: int
    links: NotRequired[dict[str, str]]  # added by the HTTP layer


class Share(TypedDict):
    """The part of a cell in one grid (or outside every grid)."""

    area_m2: float
    area_share: float
    households: float
    household_share: Annotated[float | None, Field(description="null for a cell without homes")]


class GridShare(Share):
    code: str
    name: str


class MainGrid(TypedDict):
    code: str
    name: str
    share: float
    basis: Annotated[str, Field(description="households (a cell with homes) or area")]


class CellCrosswalk(TypedDict):
    code: str
    name: str | None
    area_m2: float
    households: float
    main_grid: MainGrid | None
    grids: Annotated[list[GridShare], Field(description="largest area share first")]
    outside: Share | None


class CrosswalkSettings(TypedDict):
    mismatch_tolerance_m: float
    follow_tolerance_m: float
    mismatch_min_length_m: float
    parallel_deg: float


class CrosswalkSummary(TypedDict):
    cells: int
    pairs: int
    cells_within_one_grid: int
    cells_outside_grids: int
    households: float
    mismatches: int
    mismatch_length_m: float
    seconds: Annotated[dict[str, float], Field(description="time spent per step")]


class Crosswalk(TypedDict):
    """Per cell its unified grids by area and households, and the mismatched boundary lines."""

    network: DepartmentNetwork
    unified_grids: int
    households_rule: Message
    settings: CrosswalkSettings
    revisions: dict[str, int]
    summary: CrosswalkSummary
    cells: list[CellCrosswalk]
    mismatches: FeatureCollection


class NamedCode(TypedDict):
    code: str
    name: str | None


class GridCandidate(TypedDict):
    code: str
    name: str
    area_share: float
    household_share: float | None


class CellRekeyed(TypedDict):
    cell: NamedCode
    grid: MainGrid | None
    candidates: Annotated[list[GridCandidate], Field(description="every grid the cell meets, main first")]


class PointRekeyed(TypedDict):
    lon: float
    lat: float
    cell: NamedCode | None
    grid: NamedCode | None


class RekeyedMany(TypedDict):
    """``cells`` and ``points`` in the order asked."""

    network: str
    version: int
    by: str
    cells: NotRequired[list[CellRekeyed]]
    points: NotRequired[list[PointRekeyed]]


class Rekeyed(TypedDict):
    """The unified grid of one cell code (``cell``, ``grid``, ``candidates``) or of one point (``point``)."""

    network: str
    version: int
    by: str
    cell: NotRequired[NamedCode]
    grid: NotRequired[MainGrid | None]
    candidates: NotRequired[list[GridCandidate]]
    point: NotRequired[PointRekeyed]


class CommunityProposal(PartitionSummary):
    code: str
    name: str


class NetworkProposalSummary(TypedDict):
    parent_code: str
    networks: list[str]
    versions: dict[str, int]
    households_min: float
    households_max: float
    communities: list[CommunityProposal]
    grids: int
    grids_in_band: int
    households: float
    boundary_m: float
    boundary_along_network_m: dict[str, float]
    boundary_along_all_networks_m: float


class NetworkProposal(FeatureCollection):
    """Proposed unified grids (nothing written), with a ``summary`` of how they follow the networks."""

    summary: NetworkProposalSummary
