from tests.incidents.areas import areas  # noqa: F401 - the shared area-hierarchy fixture
