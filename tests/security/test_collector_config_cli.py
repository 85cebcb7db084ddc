"""``soc sources collector-config --credentials``: a wrong file is named before anything is asked of OpenSearch."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc import cli


@pytest.mark.parametrize(("content", "reason"), [
    ("\n", "is empty: expected 'USER PASSWORD' on its last line"),
    ("new password for x\ncollector-a\n", ":2: expected 'USER PASSWORD' on the last line"),
    ("collector-a pass word\n", ":1: expected 'USER PASSWORD' on the last line"),
])
def test_bad_credentials_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], content: str, reason: str) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", "https://127.0.0.1:9")  # never reached
    creds = tmp_path / "creds"
    creds.write_text(content)
    assert cli.main(["sources", "collector-config", "col-a", "--credentials", str(creds)]) == 1
    err = capsys.readouterr().err
    assert f"--credentials: {creds}" in err and reason in err, err


def test_missing_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", "https://127.0.0.1:9")
    assert cli.main(["sources", "collector-config", "col-a", "--credentials", str(tmp_path / "none")]) == 1
    assert "--credentials: cannot read" in capsys.readouterr().err
