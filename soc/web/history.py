"""An incident's history (its audit entries) as sentences in the reader's language.

Audit entries keep a plain English summary for the API and for auditors; the console says the
same from the entry's action and its before/after values through the message catalogs, so the
Vietnamese page reads in Vietnamese. Values that are words of the product (statuses, severities,
resolutions) are translated; names and ids are shown as written (escaped by the template).
"""

from __future__ import annotations

from typing import Any

from soc.web import i18n

# changed field -> its label in the catalogs, and the catalog prefix of its values (if they are words)
FIELDS: dict[str, tuple[str, str | None]] = {
    "status": ("field.status", "status."), "severity": ("field.severity", "severity."),
    "resolution": ("field.resolution", "resolution."), "assignee": ("field.assignee", None),
    "title": ("field.title", None), "alert_count": ("field.alerts", None), "merged_into": ("merge.into", None),
    "merged_from": ("merge.merged_from", None), "outcome": ("outcome.title", "outcome."),
}
SENTENCE, BULK = "history.", "bulk."  # catalog prefixes of the sentences and of the bulk actions' names
KNOWN = ("create", "update", "alerts_added", "comment", "merge", "merged_into", "unmerge", "unmerged_from",
         "sla_breach", "sla_check", "source_back", "bulk", "escalated")


def _value(lang: str, prefix: str | None, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(lang, prefix, v) for v in value)
    if prefix is not None:
        return i18n.translate(lang, prefix + str(value))
    return str(value)


def changes(lang: str, details: dict[str, Any]) -> list[str]:
    before, after = details.get("before") or {}, details.get("after") or {}
    if not before:  # an opening: the sentence says it, not every field "from nothing"
        return []
    out = []
    for name in sorted(after):
        label, prefix = FIELDS.get(name, (name, None))
        out.append(f"{i18n.translate(lang, label)}: {_value(lang, prefix, before.get(name))} → "
                   f"{_value(lang, prefix, after.get(name))}")
    return out


def sentence(lang: str, entry: dict[str, Any]) -> str:
    """What happened, without the field changes (see ``changes``)."""
    details = entry.get("details") or {}
    action = str(entry.get("action", ""))
    verb = action.removeprefix("incident.")
    if verb.startswith("bulk."):
        return i18n.translate(lang, "history.bulk", action=i18n.translate(lang, BULK + verb[5:]))
    if verb not in KNOWN:
        return action
    values: dict[str, Any] = {}
    if verb == "create":
        values["count"] = (details.get("after") or {}).get("alert_count", "?")
    elif verb == "alerts_added":
        values["count"] = details.get("alerts_taken", len(details.get("alerts") or []))
    elif verb == "sla_breach":
        values["kind"] = i18n.translate(lang, "sla.ack" if details.get("kind") == "acknowledge" else "sla.resolve")
    elif verb in ("merge",):
        values["ids"] = ", ".join(str(s) for s in details.get("sources") or [])
    elif verb in ("merged_into", "unmerged_from"):
        values["id"] = str(details.get("target", ""))
    elif verb == "unmerge":
        values["id"] = str(details.get("source", ""))
    return i18n.translate(lang, SENTENCE + verb, **values)


def lines(lang: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"at": e.get("@timestamp"), "actor": e.get("actor"), "action": e.get("action"),
             "text": sentence(lang, e), "changes": changes(lang, e.get("details") or {})} for e in entries]
