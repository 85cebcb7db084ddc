"""HTTP routers of the triage API (thin: parse, call one service function, return a schema)."""
