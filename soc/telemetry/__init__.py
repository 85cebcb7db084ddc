"""The service's own health: ``/metrics`` (Prometheus, through prometheus_client), ``/healthz`` and ``/readyz``."""
