"""`soc rules test` and `soc rules evaluate` on the real node: a scratch deployment each, removed after."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc import cli, search
from soc.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_rules_test_runs_in_a_scratch_deployment_and_removes_it(isolated: Settings, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)  # the test node; the command makes its own prefix
    rule = ROOT / "rules/web/admin_console_probe.yml"
    assert cli.main(["rules", "test", str(rule)]) == 0
    out = capsys.readouterr().out
    assert "pass" in out and out.rstrip().endswith("0 failed")
    client = search.client(isolated)
    assert not client.indices.exists(index="scratch-*", allow_no_indices=False)


def test_rules_evaluate_refuses_a_folder_without_labelled_logs(isolated: Settings, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    assert cli.main(["rules", "evaluate", "--logs", str(tmp_path), str(ROOT / "rules/web")]) == 2
    assert "no labelled logs" in capsys.readouterr().out
