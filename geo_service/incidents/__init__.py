"""Incidents: intake, grid assignment, the closed loop, escalation, CSV import and numbers."""
