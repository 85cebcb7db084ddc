"""Each stored noun has one owner package: only it names the noun's index.

The code is read (not run) for index-name accessors of ``soc.search.Names``: ``names.alerts``,
``self.names.users``, ``search.names(settings).incidents``, ``names("soc-alerts")``. An accessor
outside the owning package is a second owner. ``soc/opensearch`` (templates, bootstrap,
migrations, roles) and ``soc/search.py`` name every index by design.

Some readers have not moved yet; they are listed in ``NOT_YET_MOVED``, and the test fails when
the list is wrong either way: a new second owner fails it, and so does a moved one left listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

from soc.search import SYSTEM_INDICES

ROOT = Path(__file__).resolve().parents[2]
SOC = ROOT / "soc"

# Names property -> (logical index, owner package under soc/)
OWNERS = {
    "alerts": ("soc-alerts", "alerts"),
    "exceptions": ("soc-exceptions", "suppressions"),
    "users": ("soc-users", "accounts"),
    "incidents": ("soc-incidents", "incidents"),
    "sources": ("soc-sources", "sources"),
    "heartbeats": ("soc-heartbeats", "sources"),
    "reports": ("soc-reports", "reports"),
    "agencies": ("soc-agencies", "agencies"),
    "audit": ("soc-audit", "audit"),
    "indicators": ("soc-indicators", "intel"),
    "intel_feeds": ("soc-intel-feeds", "intel"),
    "checkpoints": ("soc-checkpoints", "detection"),
    "rules_state": ("soc-rules-state", "detection"),
}
BY_INDEX = {index: owner for index, owner in OWNERS.values()} | {"soc-saved-searches": "hunt"}
EVERY_INDEX = {"opensearch", "search"}

# (package, index) pairs still read outside their owner: the next moves.
NOT_YET_MOVED: set[tuple[str, str]] = set()


def _is_names(node: ast.expr) -> bool:
    """``names``, ``x.names``, ``names(...)`` or ``x.names(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Name) and node.id == "names") or \
        (isinstance(node, ast.Attribute) and node.attr == "names")


def accessors(tree: ast.Module) -> set[str]:
    """The logical indices a module names through ``Names`` (a literal, or a module constant holding one)."""
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                 for t in n.targets if isinstance(t, ast.Name)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in OWNERS and _is_names(node.value):
            found.add(OWNERS[node.attr][0])
        elif isinstance(node, ast.Call) and _is_names(node.func) and node.args:
            arg = node.args[0]
            text = arg.value if isinstance(arg, ast.Constant) else \
                constants.get(arg.id) if isinstance(arg, ast.Name) else None
            if text in BY_INDEX:
                found.add(str(text))
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(SOC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def touches() -> set[tuple[str, str]]:
    """Every (package, index) pair in the service's code."""
    out: set[tuple[str, str]] = set()
    for path in sorted(SOC.rglob("*.py")):
        out |= {(package_of(path), index) for index in accessors(ast.parse(path.read_text(), str(path)))}
    return out


def test_every_system_index_has_an_owner() -> None:
    assert set(BY_INDEX) == set(SYSTEM_INDICES)


def test_each_index_is_named_only_by_its_owner() -> None:
    seen = touches()
    second = {(pkg, index) for pkg, index in seen if pkg not in EVERY_INDEX and BY_INDEX[index] != pkg}
    assert sorted(second - NOT_YET_MOVED) == [], "a package names another noun's index: go through its owner"
    assert sorted(NOT_YET_MOVED - second) == [], "moved to its owner: take it off NOT_YET_MOVED"
    # the reading works: every owner is seen naming its own index
    assert {(owner, index) for index, owner in BY_INDEX.items()} <= seen


def test_the_reader_sees_every_accessor_form() -> None:
    code = """
AGENCIES = "soc-agencies"
def f(rt, settings, client, names):
    client.get(index=rt.names.users, id="x")
    client.search(index=self.names.exceptions)
    client.count(index=search.names(settings).incidents)
    client.get(index=names("soc-saved-searches"), id="x")
    client.get(index=names(AGENCIES), id="x")
    names.stream("logs-web", "a")
"""
    assert accessors(ast.parse(code)) == {"soc-users", "soc-exceptions", "soc-incidents", "soc-saved-searches",
                                              "soc-agencies"}


def test_import_contracts_hold() -> None:
    # .importlinter: the stores never import each other, each noun package is api -> service -> store,
    # and the collectors never import the service.
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True) == 0


def test_each_nouns_router_is_its_packages_api() -> None:
    from soc.main import ROUTERS

    packaged = {f"soc.{p.parent.name}.api" for p in SOC.glob("*/api.py") if p.parent.name != "telemetry"}
    assert packaged == set(ROUTERS)  # telemetry installs its own endpoints outside /api/v1
    assert [p.name for p in (SOC / "api").glob("*.py") if "APIRouter(" in p.read_text()] == []
