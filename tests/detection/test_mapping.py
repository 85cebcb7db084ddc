"""The wildcard sub-fields detection searches: in the mapping, filled at indexing, and added to an older deployment."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from soc import ecs, search
from soc.config import Settings
from soc.detection import store
from soc.errors import BootstrapError
from soc.opensearch import bootstrap, templates


def _strip_pattern_fields(props: dict[str, Any]) -> None:
    for spec in props.values():
        if "properties" in spec:
            _strip_pattern_fields(spec["properties"])
        spec.get("fields", {}).pop(ecs.PATTERN_SUBFIELD, None)


def _write_mapping(settings: Settings, stream: str) -> dict[str, Any]:
    client = search.client(settings)
    info = client.indices.get_data_stream(name=stream)["data_streams"][0]
    index = info["indices"][-1]["index_name"]
    props: dict[str, Any] = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    return props


def test_every_pattern_field_has_its_lower_cased_wildcard_subfield(isolated: Settings) -> None:
    stream = search.names(isolated).stream("logs-web", "dept-m")
    search.client(isolated).indices.create_data_stream(name=stream)  # an agency's stream, from the template
    props = _write_mapping(isolated, stream)
    for name in ecs.PATTERN_FIELDS:
        node: dict[str, Any] = {"properties": props}
        for part in name.split("."):
            node = node["properties"][part]
        assert node["fields"][ecs.PATTERN_SUBFIELD]["type"] == "wildcard", name
        assert node["fields"][ecs.PATTERN_SUBFIELD]["normalizer"] == ecs.PATTERN_NORMALIZER


def test_older_stream_is_rolled_over_and_new_events_are_searchable_by_pattern(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    old = templates.stream_template(isolated, names, "logs-web", 0)
    _strip_pattern_fields(old["template"]["mappings"]["properties"])
    old["template"]["settings"]["index"]["analysis"] = {"normalizer": {ecs.LOWERCASE_NORMALIZER: copy.deepcopy(
        templates.ANALYSIS["normalizer"][ecs.LOWERCASE_NORMALIZER])}}
    client.indices.put_index_template(name=names.template("logs-web"), body=old)
    stream = names.stream("logs-web", "dept-m")
    client.indices.create_data_stream(name=stream)  # a write index as an older release made it
    assert "fields" not in _write_mapping(isolated, stream)["url"]["properties"]["original"]

    report = bootstrap.init(isolated, client, names)
    steps = dict(report.steps)
    assert steps[f"data stream {stream}"].startswith("rolled over (new fields: event.original.wildcard")
    assert "wildcard" in _write_mapping(isolated, stream)["url"]["properties"]["original"]["fields"]
    assert dict(bootstrap.init(isolated, client, names).steps)[f"data stream {stream}"] == "unchanged"

    event = {"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dept-m"},
             "event": {"dataset": "nginx.access", "original": "GET /A?X=UNION%20SELECT\x00|"},
             "url": {"original": "/A?X=UNION%20SELECT\x00|"}}
    store.index_events(client, names, [event])  # NUL included: accepted, not looping the tokenizer
    body = {"query": {"bool": {"filter": [
        {"wildcard": {"url.original.wildcard": {"value": "*union%20select*"}}},
        {"wildcard": {"event.original.wildcard": {"value": "*x=union*"}}}]}}}
    assert client.search(index=names.web, body=body)["hits"]["total"]["value"] == 1


def test_older_stream_gets_the_dynamic_settings_detection_needs(isolated: Settings) -> None:
    """A write index made before merge-on-refresh was turned off (its refreshes, which every detection
    cycle waits for, then wait for merges) is given the template's dynamic settings by `soc init`."""
    client, names = search.client(isolated), search.names(isolated)
    old = templates.stream_template(isolated, names, "logs-syslog", 0)
    old["template"]["settings"]["index"].pop("merge_on_flush")
    old["template"]["settings"]["index"]["refresh_interval"] = "1s"
    client.indices.put_index_template(name=names.template("logs-syslog"), body=old)
    stream = names.stream("logs-syslog", "dept-s")
    client.indices.create_data_stream(name=stream)
    index = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][-1]["index_name"]

    def merge_on_flush_and_refresh() -> tuple[str, str]:
        got = client.indices.get_settings(index=index, include_defaults=True)[index]
        values = {**got["defaults"].get("index", {}), **got["settings"]["index"]}
        return str(values["merge_on_flush"]["enabled"]), str(values["refresh_interval"])

    assert merge_on_flush_and_refresh() == ("true", "1s")  # OpenSearch's default, and the older value

    assert dict(bootstrap.init(isolated, client, names).steps)[f"data stream {stream}"] == "settings updated"
    assert merge_on_flush_and_refresh() == ("false", "5s")
    assert dict(bootstrap.init(isolated, client, names).steps)[f"data stream {stream}"] == "unchanged"
    assert client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][-1]["index_name"] == index


def test_older_stream_is_rolled_over_for_the_settings_only_a_new_index_takes(isolated: Settings) -> None:
    """A write index made with memory maps and compound files at refresh (the defaults, whose refreshes
    held detection back under load) cannot change them: `soc init` starts a new backing index, and
    what the old one holds stays searchable."""
    client, names = search.client(isolated), search.names(isolated)
    old = templates.stream_template(isolated, names, "logs-syslog", 0)
    for key in templates.STREAM_STATIC_SETTINGS:
        old["template"]["settings"]["index"].pop(key)
    client.indices.put_index_template(name=names.template("logs-syslog"), body=old)
    stream = names.stream("logs-syslog", "dept-n")
    client.index(index=stream, body={"@timestamp": "2026-12-05T01:00:00Z", "message": "before"},
                 op_type="create", refresh=True)
    index = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][-1]["index_name"]

    def store_and_compound(name: str) -> tuple[str, str]:
        got = client.indices.get_settings(index=name, include_defaults=True)[name]
        values = {**got["defaults"].get("index", {}), **got["settings"]["index"]}
        return str(values["store"]["type"]), str(values.get("use_compound_file", "true"))

    assert store_and_compound(index) == ("", "true")  # OpenSearch's defaults: no store type is "fs" (memory maps)

    steps = dict(bootstrap.init(isolated, client, names).steps)
    assert steps[f"data stream {stream}"] == "rolled over (settings a new index takes: use_compound_file, store.type)"
    now = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][-1]["index_name"]
    assert now != index and store_and_compound(now) == ("niofs", "false")
    assert dict(bootstrap.init(isolated, client, names).steps)[f"data stream {stream}"] == "unchanged"
    assert client.count(index=stream)["count"] == 1


def test_a_stream_whose_mapping_conflicts_keeps_its_settings_too(isolated: Settings) -> None:
    """`soc init` refuses a stream whose mapping conflicts and leaves it as it is, settings included."""
    client, names = search.client(isolated), search.names(isolated)
    old = templates.stream_template(isolated, names, "logs-syslog", 0)
    old["template"]["settings"]["index"].pop("merge_on_flush")
    old["template"]["mappings"]["properties"]["source"]["properties"]["port"] = {"type": "keyword"}
    client.indices.put_index_template(name=names.template("logs-syslog"), body=old)
    stream = names.stream("logs-syslog", "dept-c")
    client.indices.create_data_stream(name=stream)
    index = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][-1]["index_name"]

    with pytest.raises(BootstrapError) as err:
        bootstrap.init(isolated, client, names)
    assert f"{index}: field 'source.port'" in str(err.value)
    assert "merge_on_flush" not in client.indices.get_settings(index=index)[index]["settings"]["index"]
