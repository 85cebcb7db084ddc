"""OpenSearch Dashboards saved objects: declared here as data, written to dashboards/*.ndjson."""
