"""The rules as the console shows them: loaded and compiled once a minute at most, with the
fields each rule's query tests (to highlight in matched events) and ATT&CK coverage by tactic."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from soc import ecs
from soc.detection import catalogue, convert, rules
from soc.detection.settings import DetectionSettings

# Enterprise tactics in ATT&CK's own order, so the coverage view reads left to right like the matrix.
TACTICS = ("reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
           "collection", "command-and-control", "exfiltration", "impact")
# A field name right before an unescaped colon in a Lucene query string.
_FIELD = re.compile(r"(?<![\\\w.@])([A-Za-z_@][\w.@]*(?:\\\.[\w@]+)*):")


def query_fields(query: str) -> set[str]:
    """ECS fields a Lucene query string tests (values and escaped text are not mistaken for fields)."""
    found = {m.group(1).replace("\\", "") for m in _FIELD.finditer(_strip_quoted(query))}
    return {f.removesuffix(".keyword") for f in found} & set(ecs.FIELDS)


def _strip_quoted(query: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)


@dataclass
class RuleInfo:
    id: str
    title: str
    level: str
    path: str
    tags: list[str]
    tactics: list[str]
    techniques: list[str]
    correlation: bool
    fields: set[str] = field(default_factory=set)
    unsupported: str | None = None


@dataclass
class Book:
    rules: dict[str, RuleInfo]
    problems: list[str]

    def coverage(self) -> list[dict[str, Any]]:
        """Per tactic (ATT&CK order, then any others): techniques with the rules that cover them."""
        by_tactic: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for info in self.rules.values():
            if not info.tactics and not info.techniques:
                continue  # base rules of correlations carry no tags of their own
            for tactic in info.tactics or ["(none)"]:
                for technique in info.techniques or ["(none)"]:
                    by_tactic[tactic][technique].append(info.title)
        order = [t for t in TACTICS if t in by_tactic] + sorted(t for t in by_tactic if t not in TACTICS)
        return [{"tactic": t, "techniques": [{"id": k, "rules": sorted(v)} for k, v in sorted(by_tactic[t].items())],
                 "rule_count": len({r for v in by_tactic[t].values() for r in v})} for t in order]


def build(rules_now: catalogue.Catalogue) -> Book:
    out: dict[str, RuleInfo] = {}
    for result in rules_now.compiled:
        r = result.rule
        threat = rules.threat(r.tags)
        info = RuleInfo(r.id, r.title, r.level, str(r.path), r.tags, threat["tactic"]["name"],
                        threat["technique"]["id"], r.is_correlation)
        if isinstance(result, convert.Compiled):
            info.fields = query_fields(result.query)
        elif isinstance(result, convert.CompiledCorrelation):
            info.fields = set().union(*(query_fields(b.query) for b in result.bases)) if result.bases else set()
        else:
            info.unsupported = result.reason
        out[r.id] = info
    return Book(out, [f"{p.path}: {p.reason}" for p in rules_now.problems])


class Rulebook:
    """The console's view of the rule catalogue, built again when the catalogue changes (a rule file
    added, removed or edited), and only then."""

    def __init__(self, ds: DetectionSettings) -> None:
        self.ds = ds
        self._book: Book | None = None
        self._source: catalogue.Catalogue | None = None
        self._lock = Lock()

    def get(self) -> Book:
        rules_now = catalogue.get(self.ds.rule_paths)
        with self._lock:
            if self._book is None or rules_now is not self._source:
                self._book = build(rules_now)
                self._source = rules_now
            return self._book
