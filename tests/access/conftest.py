from tests.incidents.areas import areas, client  # noqa: F401 - shared fixtures: the area hierarchy, a client
