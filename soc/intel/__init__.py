"""Threat intelligence: indicators imported from feeds (STIX 2.1, MISP, CSV, plain lists), matched
against new events in every detection cycle and once over recent history, and address enrichment.

api.py / cli.py -> service.py -> store.py (the only module that touches ``soc-indicators``).
"""
