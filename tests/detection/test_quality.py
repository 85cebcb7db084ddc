"""Detection quality on traffic the suite makes itself (tests/detection/labelled.py), with the
project's rules: every attacker is found, by the rules meant for it, and no alert is about benign
actors only. Runs in a fresh clone; the shared real logs remain an extra check (test_evaluate.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from soc import search
from soc.config import Settings
from soc.detection import convert, evaluate, rules
from soc.opensearch import bootstrap
from tests.detection import labelled

ROOT = Path(__file__).resolve().parents[2]


def test_project_rules_on_traffic_made_by_real_programs(isolated: Settings) -> None:
    home = Path(tempfile.mkdtemp(prefix="soc-labelled-"))  # nginx's worker user must traverse it
    home.chmod(0o755)
    try:
        folder = labelled.make(home)
        _judge(isolated, folder)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _judge(isolated: Settings, folder: Path) -> None:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems
    client, names = search.client(isolated), search.names(isolated)
    bootstrap.init(isolated, client, names, evaluate.HISTORY_LATENESS_S)
    result = evaluate.evaluate(client, names, folder, convert.compile_rules(loaded))
    assert not result.errors, result.errors
    assert set(result.attackers) == {"curl_payloads", "nikto", "hydra"}
    detected = result.detected()
    assert all(detected.values()), evaluate.render(result)
    fps = {o.title: dict(o.false_positives) for o in result.rules.values() if o.false_positives}
    assert not fps, evaluate.render(result)
    assert result.covered["benign"] == 0, evaluate.render(result)
    # the guessing burst is caught as a burst (a correlation), not only line by line
    assert "SSH Brute Force From One Address" in detected["hydra"], evaluate.render(result)
    # most payload requests are named by some alert, not one line per actor
    assert result.covered["curl_payloads"] >= 0.8 * result.lines["curl_payloads"], evaluate.render(result)
