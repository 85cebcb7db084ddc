from soc import ecs


def test_properties_nest_dotted_names() -> None:
    props = ecs.properties({"source.ip": "ip", "@timestamp": "date", "user.name": "ci_keyword"})
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"]["type"] == "date"
    assert props["user"]["properties"]["name"]["normalizer"] == ecs.LOWERCASE_NORMALIZER


def test_every_field_has_a_known_kind() -> None:
    allowed = {"date", "text", "keyword", "ci_keyword", "text+keyword", "long", "ip", "boolean", "flat_object"}
    assert {kind for kind in ecs.FIELDS.values()} <= allowed


def test_unknown_fields_are_reported() -> None:
    doc = {"source": {"ip": "127.0.0.1"}, "bogus": {"field": 1}, "log": {"syslog": {"structured_data": {"a": 1}}}}
    assert ecs.unknown_fields(doc) == ["bogus.field"]
