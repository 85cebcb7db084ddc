"""The committed saved objects are current, well-formed, and use only fields our templates map."""

from __future__ import annotations

import json
from pathlib import Path

from soc import ecs
from soc.config import Settings
from soc.dashboards import objects
from soc.opensearch import bootstrap, templates
from soc.search import Names

FILE = Path(__file__).resolve().parents[2] / "dashboards" / "soc.ndjson"


def _committed() -> list[dict]:
    return [json.loads(line) for line in FILE.read_text().splitlines() if line.strip()]


def _mapped_fields(pattern_id: str) -> set[str]:
    """Fields (with sub-fields) mapped for the indices an index pattern covers."""
    names = Names()
    if pattern_id.startswith("soc-logs"):
        props = templates.stream_template(Settings(), names, "logs-web", 0)["template"]["mappings"]["properties"]
    else:
        props = templates.system_index_body(pattern_id, 0)["mappings"]["properties"]
    out = set()
    for name, spec in bootstrap._leaf_types(props).items():
        out.add(name)
        out.update(f"{name}.{sub}" for sub in spec.get("fields", {}))
    return out


def test_committed_file_is_the_build_output() -> None:
    assert FILE.read_text() == objects.to_ndjson(objects.build()), "run: soc dashboards build"


def test_every_reference_resolves_to_an_object_in_the_file() -> None:
    objs = _committed()
    ids = {(o["type"], o["id"]) for o in objs}
    assert len(ids) == len(objs), "duplicate saved-object ids"
    for o in objs:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{o['id']} refers to missing {ref}"
    dashboards = [o for o in objs if o["type"] == "dashboard"]
    assert {d["attributes"]["title"] for d in dashboards} == {"SOC overview", "Web attacks"}
    for d in dashboards:
        panels = json.loads(d["attributes"]["panelsJSON"])
        assert {p["panelRefName"] for p in panels} == {r["name"] for r in d["references"]}


def test_visualizations_use_only_mapped_aggregatable_fields() -> None:
    objs = {o["id"]: o for o in _committed()}
    checked = 0
    for o in objs.values():
        if o["type"] != "visualization":
            continue
        state = json.loads(o["attributes"]["visState"])
        pattern = o["references"][0]["id"]
        mapped = _mapped_fields(pattern)
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            if field is None:
                continue
            assert field in mapped, f"{o['id']}: {field} is not mapped for {pattern}"
            if pattern.startswith("soc-logs"):
                assert ecs.FIELDS[field] not in ("text", "text+keyword"), f"{field} is text: not aggregatable"
            checked += 1
        source = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] == o["references"][0]["name"]
    assert checked == sum(1 for v in objects.VISUALIZATIONS for a in v.aggs if a.field)


def test_index_patterns_carry_a_prefix_for_a_shared_cluster() -> None:
    built = objects.build(prefix="prod-")
    titles = {o["attributes"]["title"] for o in built if o["type"] == "index-pattern"}
    assert "prod-logs-*" in titles and "prod-soc-incidents" in titles
