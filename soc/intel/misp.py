"""MISP event JSON: attributes of the types this service can match become indicators.

Read: ``ip-src``, ``ip-dst`` (and their ``|port`` forms), ``domain``, ``hostname``, ``url``,
``md5``, ``sha1``, ``sha256`` (and ``filename|<hash>``), in the event and in its objects.
Attributes of other types, or marked ``to_ids: false`` (context, not detection), are counted in the
notes. An event's ``threat_level_id`` gives the confidence (1 high: 85, 2 medium: 60, 3 low: 30).
A malformed event or attribute is an error naming it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from soc.intel.indicators import Indicator, IndicatorError, atom, timestamp

KINDS = {"ip-src": "ip", "ip-dst": "ip", "ip-src|port": "ip", "ip-dst|port": "ip", "domain": "domain",
         "hostname": "domain", "url": "url", "link": None, "md5": "md5", "sha1": "sha1", "sha256": "sha256",
         "filename|md5": "md5", "filename|sha1": "sha1", "filename|sha256": "sha256"}
CONFIDENCE = {"1": 85, "2": 60, "3": 30}


def _events(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and "Event" in doc:
        return [doc["Event"]]
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        return [e.get("Event") if isinstance(e, dict) else e for e in doc["response"]]
    if isinstance(doc, list):
        return [e.get("Event", e) if isinstance(e, dict) else e for e in doc]
    raise IndicatorError("not a MISP event (no \"Event\")")


def _value(kind: str, raw: str) -> str:
    if kind.startswith("filename|"):
        return raw.rsplit("|", 1)[-1]
    if kind.endswith("|port"):
        return raw.split("|", 1)[0]
    return raw


def _attribute(attr: Any, event: str, n: int, level: Any, skipped: Counter[str]) -> Indicator | None:
    if not isinstance(attr, dict) or not isinstance(attr.get("type"), str):
        raise IndicatorError(f"event {event}: attribute {n} is not a MISP attribute (no 'type')")
    where = f"event {event}: attribute {attr.get('uuid') or n}"
    kind = KINDS.get(attr["type"])
    if kind is None:
        skipped[f"type {attr['type']}"] += 1
        return None
    if str(attr.get("to_ids", True)).lower() in ("false", "0"):
        skipped["to_ids false"] += 1
        return None
    value = attr.get("value")
    if not isinstance(value, str) or not value.strip():
        raise IndicatorError(f"{where}: no value")
    try:
        one = atom(kind, _value(attr["type"], value))
        first = timestamp(attr.get("first_seen"), where, "first_seen")
        last = timestamp(attr.get("last_seen"), where, "last_seen")
    except IndicatorError as exc:
        raise IndicatorError(f"{where}: {exc}") from None
    return Indicator((one,), where, confidence=CONFIDENCE.get(str(level)), valid_from=first, valid_until=last,
                     description=str(attr.get("comment") or "")[:1000], source_ref=str(attr.get("uuid") or ""),
                     tags=[str(t.get("name")) for t in attr.get("Tag") or [] if isinstance(t, dict)]
                     if isinstance(attr.get("Tag"), list) else [])


def parse(doc: Any) -> tuple[list[Indicator], list[str]]:
    found: list[Indicator] = []
    skipped: Counter[str] = Counter()
    for i, event in enumerate(_events(doc)):
        if not isinstance(event, dict):
            raise IndicatorError(f"event {i}: not a MISP event object")
        name = str(event.get("uuid") or event.get("id") or i)
        attrs = event.get("Attribute", [])
        objects = event.get("Object", [])
        if not isinstance(attrs, list) or not isinstance(objects, list):
            raise IndicatorError(f"event {name}: 'Attribute' and 'Object' must be lists")
        for obj in objects:
            inner = obj.get("Attribute", []) if isinstance(obj, dict) else None
            if not isinstance(inner, list):
                raise IndicatorError(f"event {name}: object {obj.get('uuid') if isinstance(obj, dict) else obj!r} "
                                     "has no attribute list")
            attrs = attrs + inner
        for n, attr in enumerate(attrs):
            one = _attribute(attr, name, n, event.get("threat_level_id"), skipped)
            if one is not None:
                found.append(one)
    notes = [f"{count} attributes not imported: {why}" for why, count in sorted(skipped.items())]
    return found, notes
