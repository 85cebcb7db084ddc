"""Agencies: the departments and districts that send logs to the SOC."""
