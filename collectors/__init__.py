"""The edge collector: receives syslog and tails access logs, ships ECS events to OpenSearch."""

__version__ = "0.1.0"
