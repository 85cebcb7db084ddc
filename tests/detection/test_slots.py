"""Detection spread over several instances: slots (stream x rule group), fair shares, take-over after a stop."""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings
from soc.detection import convert, rules, runner, slots, store
from soc.detection.settings import DetectionSettings
from tests.detection.seams import InjectedCrash, crash_before
from tests.detection.test_engine import _alerts, _index, _web

ROOT = Path(__file__).resolve().parents[2]
# No re-checked stretch: these tests count exactly which windows saw which event. Every cycle reads the
# leases: slots change hands between back-to-back cycles here (claim_every_s has its own test).
DS = DetectionSettings(settle_s=0, first_lookback_s=600, rule_groups=3, recheck_s=0, claim_every_s=0)


def _rules(tmp_path: Path, n: int) -> list[convert.Result]:
    files = []
    for i in range(n):
        f = tmp_path / f"r{i}.yml"
        f.write_text(f"title: traversal {i}\nid: 5b0c7a4e-1111-4c2d-8e3f-{i:012d}\nlogsource: {{category: webserver}}\n"
                     "detection:\n    sel: {c-uri|contains: '../'}\n    condition: sel\nlevel: high\n")
        files.append(f)
    loaded, problems = rules.load(files)
    assert not problems
    return convert.compile_rules(loaded)


def test_groups_are_stable_and_a_correlation_keeps_its_rules() -> None:
    loaded, _ = rules.load([ROOT / "rules/linux/sshd/bruteforce.yml"])
    compiled = convert.compile_rules(loaded)
    [corr] = [c for c in compiled if isinstance(c, convert.CompiledCorrelation)]
    for groups in (2, 3, 5, 8):
        assigned = slots.assign(compiled, groups)
        assert all(assigned[b.rule.id] == assigned[corr.rule.id] for b in corr.bases)
        assert assigned[corr.rule.id] == slots.group_of(corr.rule.id, groups)
    assert {slots.group_of(f"rule-{i}", 4) for i in range(50)} == {0, 1, 2, 3}
    assert slots.Slot("logs-web", 0, 1).doc_id == "detect:logs-web"  # one group: the former checkpoint


def _contiguous(reports: list[runner.CycleReport]) -> dict[str, list[tuple[str, str]]]:
    by_slot: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in reports:
        for label, window in r.windows.items():
            by_slot[label].append(window)
    for label, windows in by_slot.items():
        windows.sort()
        for prev, nxt in itertools.pairwise(windows):
            assert prev[1] == nxt[0], f"{label}: gap or overlap between {prev} and {nxt}"
    return by_slot


def test_instances_share_slots_and_take_over_a_stopped_one(isolated: Settings, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _rules(tmp_path, 6)
    assert len({slots.group_of(c.rule.id, 3) for c in compiled}) > 1  # the rules really are spread
    client, names = search.client(isolated), search.names(isolated)
    reports: list[runner.CycleReport] = []
    held: dict[str, list[str]] = {}
    n_events = 0

    def cycle(owner: str, ds: DetectionSettings = DS, **kw: str) -> None:
        report = runner.run_cycle(isolated, ds, compiled, owner=owner, **kw)  # type: ignore[arg-type]
        reports.append(report)
        held[owner] = report.slots

    def feed(k: int) -> None:
        nonlocal n_events
        _index(isolated, [_web(f"/../{n_events + i}", ip=f"198.51.100.{n_events + i}") for i in range(k)])
        n_events += k

    for _ in range(3):  # three live instances: after a round of give and take, two slots each
        feed(3)
        for owner in ("a", "b", "c"):
            cycle(owner)
    assert sorted(len(held[o]) for o in "abc") == [2, 2, 2]
    assert sorted(s for o in "abc" for s in held[o]) == sorted(s.label for s in slots.all_slots(
        search.LOG_STREAMS, 3))

    # c stops mid-cycle: its alerts are written, its checkpoints are not, its lease has run out.
    feed(4)
    before = len(_alerts(isolated))
    crash_before(monkeypatch, "before_checkpoint")
    with pytest.raises(InjectedCrash):
        cycle("c", replace(DS, lease_s=0))
    written_by_c = len(_alerts(isolated)) - before
    assert written_by_c > 0 and any(label.startswith("logs-web") for label in held["c"])
    c_slots = set(held["c"])
    taken_over = len(reports)
    for _ in range(2):
        feed(2)
        for owner in ("a", "b"):
            cycle(owner)
    assert sorted(len(held[o]) for o in "ab") == [3, 3]
    assert c_slots <= set(held["a"]) | set(held["b"])
    assert sum(r.alerts_existing for r in reports[taken_over:]) == written_by_c  # re-evaluated, not re-made

    by_slot = _contiguous(reports)
    assert set(by_slot) == {s.label for s in slots.all_slots(search.LOG_STREAMS, 3)}
    alerts = _alerts(isolated)
    per_match = Counter((a["rule"]["id"], a["events"][0]["id"]) for a in alerts)
    assert len(per_match) == len(alerts) == 6 * n_events and set(per_match.values()) == {1}
    docs = store.get_docs(client, names, [s.doc_id for s in slots.all_slots(search.LOG_STREAMS, 3)])
    assert {d["_source"]["owner"] for d in docs.values() if d} == {"a", "b"}


def test_new_slots_start_from_the_former_stream_checkpoint(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rules(tmp_path, 3)
    _index(isolated, [_web("/../old", ip="198.51.100.1")])
    first = runner.run_cycle(isolated, replace(DS, rule_groups=1), compiled)  # before the split
    assert first.alerts_created == 3 and set(first.windows) == set(search.LOG_STREAMS)
    _index(isolated, [_web("/../new", ip="198.51.100.2")])
    report = runner.run_cycle(isolated, DS, compiled)  # three groups now, one-shot: every slot
    assert report.alerts_created == 3 and report.alerts_existing == 0  # the old event is not seen again
    for label, (start, _) in report.windows.items():
        stream = label.split("#")[0]
        assert start == first.windows[stream][1], label


def test_concurrent_instances_evaluate_each_window_once(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rules(tmp_path, 4)
    _index(isolated, [_web(f"/../{i}", ip=f"198.51.100.{i}") for i in range(8)])
    reports: list[runner.CycleReport] = []
    errors: list[BaseException] = []

    def instance(owner: str) -> None:
        try:
            for _ in range(3):
                reports.append(runner.run_cycle(isolated, DS, compiled, owner=owner))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=instance, args=(o,)) for o in ("x", "y", "z")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    _contiguous(reports)
    assert sum(r.alerts_created for r in reports) == 4 * 8 == len(_alerts(isolated))


def test_between_readings_of_the_leases_an_instance_goes_on_with_what_it_holds(isolated: Settings,
                                                                                tmp_path: Path) -> None:
    """claim_every_s: cycles in between neither announce the instance nor read the leases; a joining
    instance gets its share at the next reading; a slot whose document changed meanwhile (its checkpoint
    write refused) is read again at the next cycle, and its window is evaluated again, alerting nothing
    twice."""
    compiled = _rules(tmp_path, 2)
    client, names = search.client(isolated), search.names(isolated)
    held_long = replace(DS, rule_groups=1, claim_every_s=3600)
    reports: list[runner.CycleReport] = []
    n_events = 0

    def cycle(owner: str, ds: DetectionSettings = held_long, feed: bool = True) -> runner.CycleReport:
        nonlocal n_events
        if feed:
            _index(isolated, [_web(f"/../{n_events}", ip=f"198.51.100.{1 + n_events}")])
            n_events += 1
        report = runner.run_cycle(isolated, ds, compiled, owner=owner)
        reports.append(report)
        return report

    runner.forget_ahead()
    try:
        first = cycle("a")
        assert first.claimed and len(first.slots) == 2 and first.alerts_created == 2
        second = cycle("a")
        assert not second.claimed and second.slots == first.slots and second.alerts_created == 2

        joined = cycle("b")  # a holds both leases: b stands by
        assert joined.claimed and joined.slots == [] and not joined.ran
        assert not cycle("a").claimed  # a has not read the leases since: it still evaluates both
        shared = cycle("a", replace(held_long, claim_every_s=0))
        assert shared.claimed and len(shared.slots) == 1  # b is seen: a gives one back
        taken = cycle("b")
        assert taken.claimed and len(taken.slots) == 1 and set(taken.slots) != set(shared.slots)

        # a's slot document is rewritten by someone else (an operator, a restore): the version a holds
        # is stale, its checkpoint write is refused, and the next cycle reads the leases again.
        [slot] = [s for s in slots.all_slots(search.LOG_STREAMS, 1) if s.label == shared.slots[0]]
        doc = store.get_docs(client, names, [slot.doc_id])[slot.doc_id]
        assert doc is not None
        client.index(index=names.checkpoints, id=slot.doc_id, body=doc["_source"], refresh=True)
        refused = cycle("a")
        assert not refused.claimed and slot.label not in refused.windows
        again = cycle("a")
        assert again.claimed and again.slots == shared.slots and slot.label in again.windows
        for owner in ("a", "b"):  # whichever holds the web stream's slot evaluates the last events
            cycle(owner, feed=False)
    finally:
        runner.forget_ahead()
    _contiguous(reports)
    alerts = _alerts(isolated)
    per_match = Counter((a["rule"]["id"], a["events"][0]["id"]) for a in alerts)
    assert len(per_match) == len(alerts) == 2 * n_events and set(per_match.values()) == {1}
