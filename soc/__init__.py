"""SOC service: central side (detection, incidents, reports) of the log analytics service."""

__version__ = "0.1.0"
