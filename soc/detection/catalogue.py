"""The rule catalogue: the rule files of a set of folders, loaded, validated and compiled once per
process, and again only when a file is added, removed or changed.

Every reader takes its rules here: the scheduler's cycle (every second), the console's rule pages,
source coverage (API and CLI), and the detection commands. Loading and compiling every rule is most
of what a small cycle or a request would otherwise cost, and readers that compiled on their own could
disagree about what the rules are.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from soc.detection import convert, rules
from soc.detection.convert import Result
from soc.detection.rules import LoadedRule, LoadProblem

Signature = tuple[tuple[str, int, int], ...]  # (file, modification time in ns, size) of every rule file


@dataclass(frozen=True)
class Catalogue:
    loaded: tuple[LoadedRule, ...]
    problems: tuple[LoadProblem, ...]
    compiled: tuple[Result, ...]


_lock = threading.Lock()
_cache: dict[tuple[str, ...], tuple[Signature, Catalogue]] = {}


def signature(paths: Sequence[Path]) -> Signature:
    out = []
    for path in rules.rule_files(list(paths)):
        try:
            st = path.stat()
        except OSError:
            continue  # removed meanwhile: the next call sees the folder without it
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def get(paths: Sequence[Path]) -> Catalogue:
    """The catalogue of ``paths``; the same object as long as no rule file changed."""
    key = tuple(str(p) for p in paths)
    current = signature(paths)
    with _lock:
        known = _cache.get(key)
        if known is not None and known[0] == current:
            return known[1]
        loaded, problems = rules.load(list(paths))
        catalogue = Catalogue(tuple(loaded), tuple(problems), tuple(convert.compile_rules(loaded)))
        _cache[key] = (current, catalogue)
        return catalogue
