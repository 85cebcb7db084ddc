"""``soc users`` and ``soc tokens`` against the real node."""

from __future__ import annotations

import io
import sys

import pytest

from soc import cli
from soc.accounts import store as accounts_store
from soc.runtime import Runtime


def test_users_and_tokens_commands(rt: Runtime, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", rt.settings.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", rt.settings.index_prefix)
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert cli.main(["users", "add", "ana", "--role", "analyst", "--agency", "agency-a", "--agency", "agency-b",
                     "--password-stdin"]) == 0
    principal = accounts_store.check_password(rt.client, rt.names, "ana", "correct horse battery")
    assert principal is not None and principal.agencies == ("agency-a", "agency-b")
    assert accounts_store.check_password(rt.client, rt.names, "ana", "wrong horse battery") is None
    stored = accounts_store.get_user(rt.client, rt.names, "ana")["password_hash"]
    assert stored.startswith("$argon2id$") and "correct" not in stored

    monkeypatch.setattr(sys, "stdin", io.StringIO("another long secret\n"))
    assert cli.main(["users", "passwd", "ana", "--password-stdin"]) == 0
    assert accounts_store.check_password(rt.client, rt.names, "ana", "another long secret") is not None

    capsys.readouterr()
    assert cli.main(["tokens", "create", "ana"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    who = accounts_store.principal_for_token(rt.client, rt.names, token)
    assert who is not None and who.name == "ana" and who.role == "analyst"

    assert cli.main(["tokens", "create", "shipper", "--role", "collector", "--agency", "agency-a"]) == 0
    program = capsys.readouterr().out.strip().splitlines()[-1]
    assert accounts_store.principal_for_token(rt.client, rt.names, program).role == "collector"  # type: ignore[union-attr]

    assert cli.main(["users", "add", "ana", "--role", "viewer"]) == 1  # exists already
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "bo", "--role", "viewer", "--password-stdin"]) == 1
    assert "at least" in capsys.readouterr().err
