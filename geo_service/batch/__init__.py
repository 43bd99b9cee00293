"""Batch jobs on a Dask cluster: locate every point of a file, walking reach from every home.

Public interface::

    batch_locate(client, source, target, ...) -> JobSummary      # geo-service batch locate IN OUT
    batch_reach(client, source, target, category, ...) -> JobSummary   # geo-service batch reach IN OUT
    locate_points(index, lon, lat) -> dict[str, np.ndarray]       # one window, one process
    reach_points(network, facility_rows, category, lon, lat, ...) -> dict[str, np.ndarray]
"""
