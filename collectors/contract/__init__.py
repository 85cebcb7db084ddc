"""What the collectors and the service agree on, in one place both import.

- ``contract.ecs``: the ECS fields an event may carry, with their OpenSearch mapping types;
- ``contract.names``: agency ids, the log streams and the names of the indices a collector writes;
- ``contract.ids``: the deterministic document ids (syslog frames, file lines, heartbeats).

These modules use the standard library only: the collector's distribution ships them, and the
service imports them from there, so neither side spells the contract on its own.
"""
