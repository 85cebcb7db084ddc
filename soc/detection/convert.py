"""Sigma rules → OpenSearch queries with pysigma-backend-opensearch and our pipeline, cached by content hash.

A rule either compiles (its Lucene query string and the logical data streams it searches) or is
unsupported with a reason; nothing is skipped silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule

from soc.detection import dsl, local, pipeline
from soc.detection.rules import LoadedRule

RAW_LINE_FIELD = pipeline.RAW_LINE_FIELD


@dataclass(frozen=True)
class Compiled:
    """A single-event rule ready to run."""

    rule: LoadedRule
    streams: tuple[str, ...]  # logical names, e.g. ("logs-web",)
    query: str  # Lucene query string, exactly what `sigma convert -t opensearch_lucene -p` prints
    # What the engine runs: the query rebuilt as DSL with patterns on the wildcard sub-fields
    # (soc.detection.dsl); empty when the query string cannot be rebuilt exactly, then it runs as is.
    search: dict[str, Any] = field(default_factory=dict, compare=False)
    # A query too large for one request (OpenSearch's clause limit) cut into DSL queries whose union
    # is the rule (dsl.split); the engine runs each and merges their hits. Empty otherwise.
    parts: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    # Exact keyword values every match carries (dsl.required_terms): a window holding none of them is
    # skipped without searching.
    required: tuple[dsl.Requirement, ...] = field(default=(), compare=False)
    # The query evaluated in the service on fetched documents (soc.detection.local), used for small
    # windows; None when some leaf is only answered by the node.
    local: local.Matcher | None = field(default=None, compare=False)

    def query_string(self) -> dict[str, Any]:
        return {"query_string": {"query": self.query, "analyze_wildcard": True}}

    def dsl(self) -> dict[str, Any]:
        """One query for the rule (a split rule's plain query string: slow, but one clause tree)."""
        return self.search or self.query_string()

    def searches(self) -> tuple[dict[str, Any], ...]:
        """What the engine runs: the parts of a split rule, else its one query."""
        return self.parts or (self.dsl(),)


@dataclass(frozen=True)
class CompiledCorrelation:
    rule: LoadedRule
    kind: str  # event_count, value_count, temporal, temporal_ordered
    bases: tuple[Compiled, ...]
    streams: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan_s: int
    op: str  # gte, gt, lte, lt, eq, neq
    count: int
    field: str | None = None
    # Per base: how many of its matches a group needs before the base counts as present (1, or the
    # threshold of an event_count correlation this rule refers to, e.g. "5 failures, then a success").
    minimums: tuple[int, ...] = ()


@dataclass(frozen=True)
class Unsupported:
    rule: LoadedRule
    reason: str


Result = Compiled | CompiledCorrelation | Unsupported

_cache: dict[tuple[str, str], Result] = {}
_SUPPORTED_CORRELATIONS = {SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT,
                           SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED}


def _fields(rule: SigmaRule) -> list[str]:
    out: list[str] = []

    def walk(detection: SigmaDetection) -> None:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                walk(item)
            elif item.field is not None:
                out.append(item.field)

    for detection in rule.detection.detections.values():
        walk(detection)
    return out


def _convert_single(loaded: LoadedRule) -> Compiled | Unsupported:
    rule = loaded.rule
    assert isinstance(rule, SigmaRule)
    src = rule.logsource
    source = pipeline.find_logsource(src.category, src.product, src.service)
    if source is None:
        return Unsupported(loaded, f"logsource (category={src.category}, product={src.product}, "
                                   f"service={src.service}) is not mapped to a log stream of ours")
    work = copy.deepcopy(rule)
    work._output = True  # base rules of a correlation are converted too (the correlation runs them)
    backend = OpensearchLuceneBackend(processing_pipeline=pipeline.processing_pipeline())
    try:
        queries = backend.convert_rule(work)
    except SigmaError as exc:
        return Unsupported(loaded, f"the OpenSearch backend cannot convert it: {exc}")
    except Exception as exc:  # the backend raises plain errors too; report, never skip
        return Unsupported(loaded, f"conversion failed: {type(exc).__name__}: {exc}")
    unknown = pipeline.unknown_fields(_fields(work))
    if unknown:
        return Unsupported(loaded, "fields not in our ECS list (no event can match): " + ", ".join(unknown))
    if len(queries) != 1 or not isinstance(queries[0], str):
        return Unsupported(loaded, f"expected one query, the backend gave {len(queries)}")
    parts: tuple[dict[str, Any], ...] = ()
    required: tuple[dsl.Requirement, ...] = ()
    try:
        search = dsl.translate(queries[0])
    except dsl.Untranslatable:
        search = {}
        try:
            parts = tuple(dsl.translate_parts(queries[0]))
        except dsl.Untranslatable:
            parts = ()
    matcher: local.Matcher | None = None
    if search or parts:  # the query string parsed: its exact-term conditions are known
        required = dsl.required_terms(dsl.parse(queries[0]))
        matcher = local.matcher(queries[0])
    return Compiled(loaded, source.streams, queries[0], search, parts, required, matcher)


def _group_field(name: str) -> str:
    for source in pipeline.LOGSOURCES:
        mapped = source.fields.get(name)
        if isinstance(mapped, str):
            return mapped
    return name


def _convert_correlation(loaded: LoadedRule, by_id: dict[str, Result]) -> CompiledCorrelation | Unsupported:
    rule = loaded.rule
    assert isinstance(rule, SigmaCorrelationRule)
    if rule.type not in _SUPPORTED_CORRELATIONS:
        return Unsupported(loaded, f"correlation type {rule.type} is not supported")
    bases: list[Compiled] = []
    minimums: list[int] = []
    group_by = tuple(_group_field(g) for g in (rule.group_by or []))
    for ref in rule.rules or []:
        target = getattr(ref, "rule", None)
        base = by_id.get(str(target.id)) if target is not None and target.id else None
        if isinstance(base, CompiledCorrelation):
            nested = _nested_threshold(base, group_by)
            if isinstance(nested, str):
                return Unsupported(loaded, f"referenced correlation {ref.reference}: {nested}")
            bases.append(base.bases[0])
            minimums.append(nested)
            continue
        if not isinstance(base, Compiled):
            why = base.reason if isinstance(base, Unsupported) else "not found or not a single-event rule"
            return Unsupported(loaded, f"referenced rule {ref.reference}: {why}")
        bases.append(base)
        minimums.append(1)
    streams = {b.streams for b in bases}
    if len(streams) != 1:
        return Unsupported(loaded, "referenced rules search different log streams")
    cond = rule.condition
    op = getattr(getattr(cond, "op", None), "name", "GTE").lower()
    count = int(getattr(cond, "count", 1) or 1)
    fieldref = getattr(cond, "fieldref", None)
    if isinstance(fieldref, list):
        return Unsupported(loaded, "value_count over several fields is not supported")
    if rule.type == SigmaCorrelationType.VALUE_COUNT and not fieldref:
        return Unsupported(loaded, "value_count needs condition.field")
    if any(m > 1 for m in minimums) and rule.type not in (SigmaCorrelationType.TEMPORAL,
                                                          SigmaCorrelationType.TEMPORAL_ORDERED):
        return Unsupported(loaded, "only temporal correlations may refer to an event_count correlation")
    return CompiledCorrelation(
        loaded, rule.type.name.lower(), tuple(bases), next(iter(streams)), group_by,
        int(rule.timespan.seconds), op, count, _group_field(fieldref) if fieldref else None, tuple(minimums))


def _nested_threshold(base: CompiledCorrelation, group_by: tuple[str, ...]) -> int | str:
    """The match count a referenced event_count correlation stands for, or why it cannot be nested."""
    if base.kind != "event_count" or len(base.bases) != 1 or base.op not in ("gte", "gt"):
        return "only an event_count correlation over one rule with gte/gt can be referenced"
    if base.group_by != group_by:
        return "its group-by differs from the referring correlation's"
    return base.count + (1 if base.op == "gt" else 0)


def compile_rules(rules: list[LoadedRule]) -> list[Result]:
    """Convert every rule (single rules first: correlations refer to them). Cached by file content."""
    results: dict[str, Result] = {}
    # Correlations that refer to other correlations come after them (those refer to single rules only).
    corrs = [r for r in rules if r.is_correlation]
    ordered = ([r for r in rules if not r.is_correlation] + sorted(corrs, key=lambda r: _refers_to_correlation(r)))
    for loaded in ordered:
        key = (loaded.content_hash, loaded.id)
        cached = _cache.get(key)
        if cached is None or cached.rule.path != loaded.path:
            cached = (_convert_correlation(loaded, results) if loaded.is_correlation
                      else _convert_single(loaded))
            _cache[key] = cached
        results[loaded.id] = cached
    return [results[r.id] for r in rules]


def _refers_to_correlation(loaded: LoadedRule) -> bool:
    refs = getattr(loaded.rule, "rules", None) or []
    return any(isinstance(getattr(ref, "rule", None), SigmaCorrelationRule) for ref in refs)


def referenced_ids(results: list[Result]) -> set[str]:
    """Rules (and correlations) referred to by a correlation that do not alert on their own (``generate: false``)."""
    out: set[str] = set()
    for res in results:
        if isinstance(res, CompiledCorrelation):
            rule = res.rule.rule
            if not getattr(rule, "generate", False):
                out.update(b.rule.id for b in res.bases)
                out.update(str(ref.rule.id) for ref in getattr(rule, "rules", None) or []
                           if isinstance(getattr(ref, "rule", None), SigmaCorrelationRule))
    return out


__all__ = ["Compiled", "CompiledCorrelation", "Result", "Unsupported", "compile_rules", "field", "referenced_ids"]
