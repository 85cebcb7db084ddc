"""The local OpenSearch node, index templates, ISM policies and bootstrap."""
