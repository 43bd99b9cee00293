"""Figures for leaders: the dashboard of the closed loop (``dashboard``) and its exports (``export``)."""
