"""Facilities (POIs by category) that planners add or correct beside the imported ones."""
