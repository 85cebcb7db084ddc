"""Alerts: what detection writes to ``soc-alerts`` and the incident service groups."""
