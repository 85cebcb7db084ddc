"""The incident tests' fixtures (runtime with a test clock, alerts, tokens per role, the app)."""

from tests.incidents.conftest import alerts, api, clock, rt, tokens

__all__ = ["alerts", "api", "clock", "rt", "tokens"]
