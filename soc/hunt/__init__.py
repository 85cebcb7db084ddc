"""Hunting: log search with facets and a histogram, exports, saved searches, and the Sigma rule lab."""
