"""Suppression rules: conditions under which detection writes no alert for a rule's match.

The HTTP API and the stored index keep their older word, "exceptions" (``/api/v1/exceptions``,
``soc-exceptions``): those names are contracts. Everywhere else they are suppressions.
"""
