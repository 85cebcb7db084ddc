"""The weekly security report: OpenSearch aggregations turned into HTML, PDF, JSON and CSV."""
