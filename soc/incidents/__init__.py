"""Incidents: grouping alerts, the triage workflow, evidence, exceptions, SLAs and notifications."""
