"""The retro-hunt searches indicators in large groups; a group whose events overflow one answer is split
until every indicator gets all of its events (the answer size is made tiny here to force the splits)."""

from __future__ import annotations

from collections import Counter

import pytest

from soc import search
from soc.config import Settings
from soc.intel import matching, service
from tests.intel.feeds import ADMIN, ago, cycle, intel_alerts, web_event, write


def test_overflowing_groups_are_split_and_every_event_is_found(isolated: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = [f"198.51.100.{i}" for i in range(1, 13)]
    seen = {addresses[0]: 4, addresses[5]: 2, addresses[11]: 1}  # the others are never seen
    write(isolated, [web_event({"source.ip": ip, "url.original": f"/{ip}/{n}"}, when=ago(days=2, minutes=n))
                     for ip, times in seen.items() for n in range(times)]
          + [web_event({"source.ip": "192.0.2.200"}, when=ago(days=1))])
    cycle(isolated)  # no indicator yet: these events are behind the windows from now on
    calls: list[int] = []
    real = matching.hunt

    def counted(*args: object, **kw: object) -> object:
        calls.append(len(args[2]))  # type: ignore[arg-type]
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(matching, "GROUP_SIZE", 2)  # an answer holds 2 events: most groups overflow
    monkeypatch.setattr(matching, "RETRO_GROUP", 12)
    monkeypatch.setattr(matching, "SPLIT", 3)
    monkeypatch.setattr(matching, "hunt", counted)
    result = service.import_text(search.client(isolated), search.names(isolated), ADMIN, "\n".join(addresses),
                                 "groups", "list")
    assert result.created == 12
    cycle(isolated)
    got = Counter(a["threat"]["matched"]["atomic"] for a in intel_alerts(isolated))
    assert got == Counter(seen)
    assert {a["threat"]["matched"]["how"] for a in intel_alerts(isolated)} == {"retro-hunt"}
    assert calls[0] == 12 and len(calls) >= 3  # 12, then the overflowing 4s, then their overflowing 1s
