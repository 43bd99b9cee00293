"""Open311 GeoReport v2 over the incidents (see :mod:`.service` and :mod:`.render`)."""
