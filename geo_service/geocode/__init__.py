"""Geocoding over the gazetteer, facilities, stations and area names (see :mod:`.service`)."""
