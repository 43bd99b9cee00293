"""geo-service: the grid-management map service for grassroots governance."""

__version__ = "0.1.0"
