"""Walking on the pedestrian network: isochrones, routes, travel-time matrices and node-level searches.

This is the package's public interface; other packages (stations, life circles, siting, the guide map, the
batch jobs) use only the names in ``__all__``. Modules inside (graph layout, numba kernels, the disk cache)
may change without notice.

Units: metres, seconds, km/h; points are ``(lon, lat)`` WGS-84 unless a ``crs`` says otherwise. Search
costs are *effective metres* (length × the steps factor on steps): seconds = cost ÷ speed (m/s).
"""

from geo_service.walking.graph import Components, Snap, WalkGraph, graph_from_snapshot
from geo_service.walking.network import (
    Located,
    NodeReach,
    Search,
    Sources,
    WalkNetwork,
    current_network,
    load_network,
    node_reach,
    run_search,
)
from geo_service.walking.paths import Arrival, arrive, best_arrival, path_to
from geo_service.walking.service import (
    Contour,
    ContourProperties,
    NetworkDataset,
    NetworkSummary,
    ReachableStreets,
    Route,
    RouteProperties,
    StreetPiece,
    TravelMatrix,
    contours_json,
    isochrones,
    network_summary,
    reachable_streets,
    route,
    snap_points,
    sources_of,
    speed_mps,
    travel_matrix,
    wgs84_points,
)
from geo_service.walking.warm import warm_up

__all__ = [
    "Arrival",
    "Components",
    "Contour",
    "ContourProperties",
    "Located",
    "NetworkDataset",
    "NetworkSummary",
    "NodeReach",
    "ReachableStreets",
    "Route",
    "RouteProperties",
    "Search",
    "Snap",
    "Sources",
    "StreetPiece",
    "TravelMatrix",
    "WalkGraph",
    "WalkNetwork",
    "arrive",
    "best_arrival",
    "contours_json",
    "current_network",
    "graph_from_snapshot",
    "isochrones",
    "load_network",
    "network_summary",
    "node_reach",
    "path_to",
    "reachable_streets",
    "route",
    "run_search",
    "snap_points",
    "sources_of",
    "speed_mps",
    "travel_matrix",
    "warm_up",
    "wgs84_points",
]
