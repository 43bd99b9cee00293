"""Locate: exact, fast point → grid assignment with the area hierarchy."""
