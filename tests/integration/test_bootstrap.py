"""`soc init` against the real node: templates, streams, pipeline, idempotence, conflicts, retention."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from soc import ecs, search
from soc.config import Settings
from soc.errors import BootstrapError
from soc.opensearch import bootstrap, retention


def test_second_run_changes_nothing(isolated: Settings) -> None:
    client = search.client(isolated)
    report = bootstrap.init(isolated, client, search.names(isolated))
    assert not report.changed, report.steps
    assert all(outcome == "unchanged" for _, outcome in report.steps)


def test_first_run_creates_everything(opensearch_settings: Settings) -> None:
    settings = replace(opensearch_settings, index_prefix=f"t{uuid.uuid4().hex[:10]}-")
    client = search.client(settings)
    names = search.names(settings)
    try:
        report = bootstrap.init(settings, client, names)
        created = {what for what, outcome in report.steps if outcome == "created"}
        assert f"index template {names.template('logs-syslog')}" in created and f"index {names.incidents}" in created
        assert f"index {names.heartbeats}" in created
        assert report.changed
    finally:
        bootstrap.remove_prefix(client, settings.index_prefix)


def test_templates_carry_the_ecs_fields(isolated: Settings) -> None:
    client = search.client(isolated)
    names = search.names(isolated)
    for stream in search.LOG_STREAMS:
        tmpl = client.indices.get_index_template(name=names.template(stream))["index_templates"][0]["index_template"]
        assert tmpl["index_patterns"] == [f"{isolated.index_prefix}{stream}-*"]
        flat = bootstrap._leaf_types(tmpl["template"]["mappings"]["properties"])
        assert set(flat) == set(ecs.FIELDS)
        assert flat["source.ip"]["type"] == "ip"
        assert flat["event.ingested"]["type"] == "date"
        assert flat["user.name"]["normalizer"] == ecs.LOWERCASE_NORMALIZER


def test_ingest_time_is_stamped_and_keyword_matching_is_case_insensitive(isolated: Settings) -> None:
    client = search.client(isolated)
    names = search.names(isolated)
    before = datetime.now(UTC)
    client.index(index=names.stream("logs-syslog", "so-a"),
                 body={"@timestamp": "2020-01-01T00:00:00Z", "user": {"name": "Alice"},
                       "event": {"original": "x", "ingested": "1999-01-01T00:00:00Z"}},
                 op_type="create", refresh=True)
    hit = client.search(index=names.syslog, body={"query": {"term": {"user.name": "ALICE"}}})["hits"]["hits"]
    assert len(hit) == 1
    stamped = datetime.fromisoformat(hit[0]["_source"]["event"]["ingested"].replace("Z", "+00:00"))
    assert stamped >= before.replace(microsecond=0)  # the client's own value is overwritten


def test_conflicting_mapping_is_reported_by_name_not_overwritten(opensearch_settings: Settings) -> None:
    settings = replace(opensearch_settings, index_prefix=f"t{uuid.uuid4().hex[:10]}-")
    client = search.client(settings)
    names = search.names(settings)
    try:
        client.indices.create(index=names.alerts, body={"mappings": {"properties": {"severity": {"type": "long"}}}})
        with pytest.raises(BootstrapError) as err:
            bootstrap.init(settings, client, names)
        assert f"{names.alerts}: field 'severity' is type 'long'" in str(err.value)
        mapping = client.indices.get_mapping(index=names.alerts)[names.alerts]["mappings"]["properties"]
        assert mapping["severity"]["type"] == "long"
    finally:
        bootstrap.remove_prefix(client, settings.index_prefix)


def test_retention_rolls_over_and_deletes_what_is_past_its_days(isolated: Settings) -> None:
    client = search.client(isolated)
    names = search.names(isolated)
    stream = names.stream("logs-syslog", "so-a")
    client.index(index=stream, body={"@timestamp": "2026-01-01T00:00:00Z"}, op_type="create", refresh=True)
    first = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"][0]["index_name"]
    client.indices.rollover(alias=stream)
    client.index(index=names.alerts, id="old", body={"created": "2020-01-01T00:00:00Z"}, refresh=True)
    client.index(index=names.alerts, id="new", body={"created": datetime.now(UTC).isoformat()}, refresh=True)

    now = datetime.now(UTC).timestamp() * 1000
    result = retention.apply(isolated, client, names, now_ms=int(now))
    assert first not in result.deleted_indices  # younger than 90 days
    assert result.deleted_documents[names.alerts] == 1
    assert client.exists(index=names.alerts, id="new") and not client.exists(index=names.alerts, id="old")

    later = int(now + 91 * retention.DAY_MS)
    result = retention.apply(isolated, client, names, now_ms=later)
    assert first in result.deleted_indices
    backing = client.indices.get_data_stream(name=stream)["data_streams"][0]["indices"]
    assert first not in [b["index_name"] for b in backing] and backing  # write index kept


def test_removing_a_prefix_refuses_the_empty_one(opensearch_settings: Settings) -> None:
    client = search.client(opensearch_settings)
    with pytest.raises(ValueError, match="no index prefix"):
        bootstrap.remove_prefix(client, "")
    settings = replace(opensearch_settings, index_prefix=f"t{uuid.uuid4().hex[:10]}-")
    names = search.names(settings)
    bootstrap.init(settings, client, names)
    bootstrap.remove_prefix(client, settings.index_prefix)
    assert not client.indices.exists(index=f"{settings.index_prefix}*", allow_no_indices=False)
    assert not client.indices.exists_index_template(name=names.template("logs-syslog"))


def test_a_scratch_deployment_exists_inside_its_block_and_is_gone_after(opensearch_settings: Settings) -> None:
    client = search.client(opensearch_settings)
    with pytest.raises(RuntimeError, match="stop here"), \
            bootstrap.scratch(opensearch_settings, "scratch-t-") as scoped:
        names = search.names(scoped)
        assert scoped.index_prefix.startswith("scratch-t-") and scoped.index_prefix != opensearch_settings.index_prefix
        assert client.indices.exists(index=names.alerts)
        assert client.indices.get_index_template(name=names.template("logs-syslog"))["index_templates"]
        raise RuntimeError("stop here")  # a failing run still leaves nothing behind
    assert not client.indices.exists(index=f"{scoped.index_prefix}*", allow_no_indices=False)
    assert not client.indices.get_index_template(name=f"{scoped.index_prefix}*", ignore=[404]).get("index_templates")
