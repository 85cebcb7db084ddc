"""Loading and validating Sigma rules: the project's rules/ folder plus extra folders from settings.

Validation uses pySigma's own validators, chosen so that none of them needs ATT&CK data (pySigma
would fetch it from the internet; agencies run air-gapped). ATT&CK tags are read from the tag
text itself (``attack.t1190`` → technique ``T1190``; ``attack.initial-access`` → tactic).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.validators.core.condition import DanglingConditionValidator, DanglingDetectionValidator
from sigma.validators.core.metadata import IdentifierExistenceValidator
from sigma.validators.core.modifiers import InvalidModifierCombinationsValidator
from sigma.validators.core.tags import DuplicateTagValidator, TagFormatValidator
from sigma.validators.core.values import ControlCharacterValidator

from soc.incidents import policy

EVENTS_SUFFIX = ".events.yml"
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")

VALIDATORS = (DanglingDetectionValidator, DanglingConditionValidator, IdentifierExistenceValidator,
              InvalidModifierCombinationsValidator, ControlCharacterValidator, TagFormatValidator,
              DuplicateTagValidator)

AnyRule = SigmaRule | SigmaCorrelationRule


@dataclass
class LoadedRule:
    """One rule of a file (a file may hold a correlation and its base rules)."""

    path: Path
    rule: AnyRule
    content_hash: str  # of the whole file: a change anywhere in it converts again
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.rule.id) if self.rule.id else f"{self.path.name}:{self.rule.title}"

    @property
    def title(self) -> str:
        return str(self.rule.title)

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    @property
    def level(self) -> str:
        return self.rule.level.name.lower() if self.rule.level else "medium"

    @property
    def author(self) -> str:
        return str(self.rule.author or "unknown")

    @property
    def references(self) -> list[str]:
        return [str(r) for r in (self.rule.references or [])]

    @property
    def tags(self) -> list[str]:
        return [f"{t.namespace}.{t.name}" for t in (self.rule.tags or [])]

    @property
    def grouping(self) -> dict[str, Any] | None:
        """The rule's incident grouping (its ``grouping`` attribute, checked when the file loaded)."""
        value = (self.rule.custom_attributes or {}).get("grouping")
        return None if value is None else policy.check_rule_attribute(value)


@dataclass
class LoadProblem:
    path: Path
    reason: str


def threat(tags: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """ECS threat fields from Sigma ATT&CK tags, without any ATT&CK data set."""
    tactics: list[str] = []
    techniques: list[str] = []
    for tag in tags:
        namespace, _, name = tag.partition(".")
        if namespace != "attack" or not name:
            continue
        if _TECHNIQUE.match(name.lower()):
            techniques.append(name.upper())
        elif not re.match(r"^[gs]\d{4}$", name.lower()):
            tactics.append(name.lower())
    return {"tactic": {"name": tactics}, "technique": {"id": techniques}}


def rule_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in sorted(path.rglob("*.yml")) if not p.name.endswith(EVENTS_SUFFIX)]
    return files


def load_file(path: Path) -> tuple[list[LoadedRule], list[LoadProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [LoadProblem(path, f"cannot read: {exc}")]
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
        collection.resolve_rule_references()
    except yaml.YAMLError as exc:  # a syntax error: name the line, as for every config file
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return [], [LoadProblem(path, f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")]
    except (SigmaError, ValueError, TypeError) as exc:
        return [], [LoadProblem(path, f"not a valid Sigma file: {exc}")]
    loaded: list[LoadedRule] = []
    problems: list[LoadProblem] = []
    for rule in collection.rules:
        errors = getattr(rule, "errors", None) or []
        if errors:
            problems.append(LoadProblem(path, "; ".join(str(e) for e in errors)))
            continue
        item = LoadedRule(path, rule, digest)
        try:
            item.grouping  # noqa: B018 - a malformed grouping policy keeps the rule out, naming the file
        except ValueError as exc:
            problems.append(LoadProblem(path, f"rule {item.title!r}: {exc}"))
            continue
        for validator in VALIDATORS:
            try:
                issues = validator().validate(rule)
            except Exception:  # noqa: S112 - a validator that cannot judge a rule kind is no finding
                continue
            item.warnings += [f"{type(i).__name__}: {i.description}" for i in issues]
        loaded.append(item)
    return loaded, problems


def load(paths: Sequence[Path]) -> tuple[list[LoadedRule], list[LoadProblem]]:
    """Every rule under ``paths`` (files or folders), and every file that could not be loaded."""
    rules: list[LoadedRule] = []
    problems: list[LoadProblem] = []
    seen: dict[str, Path] = {}
    for path in rule_files(paths):
        loaded, bad = load_file(path)
        problems += bad
        for item in loaded:
            if item.id in seen and seen[item.id] != item.path:
                problems.append(LoadProblem(path, f"rule id {item.id} is also used by {seen[item.id]}"))
                continue
            seen[item.id] = item.path
            rules.append(item)
    return rules, problems
