"""The demo: real sample traffic (nginx serving curl and browser-like clients, syslog from logger)."""
