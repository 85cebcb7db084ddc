"""The one reading of a suppression rule, including the cases where its two former copies disagreed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soc.suppressions.match import covers, suppressing

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENT = {"organization": {"id": "agency-a"}, "source": {"ip": "10.0.0.7"}, "url": {"path": "/Health"},
         "tags": ["probe", None]}


def rule(conditions: list[dict[str, str]], **kw: object) -> dict[str, object]:
    return {"_id": "r1", "rule_id": "rule-a", "organization": {"id": "agency-a"}, "enabled": True,
            "expires": (NOW + timedelta(days=1)).isoformat(), "conditions": conditions} | kw


def test_every_condition_must_hold_in_any_of_a_fields_values() -> None:
    both = rule([{"field": "source.ip", "op": "cidr", "value": "10.0.0.0/24"},
                 {"field": "url.path", "op": "equals", "value": "/health"}])
    assert suppressing([both], "rule-a", EVENT, NOW) == "r1"
    assert suppressing([both], "rule-a", EVENT | {"source": {"ip": "10.9.0.7"}}, NOW) is None
    assert covers(rule([{"field": "tags", "op": "equals", "value": "PROBE"}]), EVENT, NOW)


def test_flat_dotted_keys_read_like_nested_objects() -> None:
    flat = {"organization.id": "agency-a", "source.ip": "10.0.0.7"}
    assert covers(rule([{"field": "source.ip", "op": "startswith", "value": "10.0."}]), flat, NOW)


def test_a_rule_without_conditions_suppresses_nothing() -> None:
    # The incident service's copy held a rule with no conditions to cover every event; detection's
    # did not. Suppressing every match of a rule because a condition list is empty fails unsafe.
    assert not covers(rule([]), EVENT, NOW)
    assert suppressing([rule([])], "rule-a", EVENT, NOW) is None


def test_a_null_value_satisfies_no_condition() -> None:
    # Detection's copy compared the text "None" for a null item of a list: "contains 'non'" held.
    assert not covers(rule([{"field": "tags", "op": "contains", "value": "non"}]), EVENT, NOW)
    assert not covers(rule([{"field": "user.name", "op": "equals", "value": "None"}]),
                      EVENT | {"user": {"name": None}}, NOW)


def test_rule_id_agency_enabled_and_expiry_decide_before_the_conditions() -> None:
    cond = [{"field": "source.ip", "op": "cidr", "value": "10.0.0.0/8"}]
    assert suppressing([rule(cond)], "rule-b", EVENT, NOW) is None
    assert suppressing([rule(cond, rule_id="*")], "rule-b", EVENT, NOW) == "r1"
    assert suppressing([rule(cond, organization={"id": "agency-b"})], "rule-a", EVENT, NOW) is None
    assert suppressing([rule(cond, organization={"id": "*"})], "rule-a", EVENT, NOW) == "r1"
    assert suppressing([rule(cond, enabled=False)], "rule-a", EVENT, NOW) is None
    assert suppressing([rule(cond, expires=NOW.isoformat())], "rule-a", EVENT, NOW) is None
    # without a time the expiry is not checked: the store returned only unexpired rules
    assert suppressing([rule(cond, expires=NOW.isoformat())], "rule-a", EVENT) == "r1"


def test_an_address_range_never_matches_text_that_is_no_address() -> None:
    cond = [{"field": "url.path", "op": "cidr", "value": "10.0.0.0/8"}]
    assert not covers(rule(cond), EVENT, NOW)
