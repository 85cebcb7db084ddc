"""Sign-in throttling: failures slow further attempts down, per address and per account.

Every attempt is recorded as a failure *before* the password is checked, in the same step that
decides whether it may be made at all; a success then takes its record back. So parallel
requests cannot all pass a check before any of them is counted. An address or account with
``free`` recent failures (in the window) waits ``delay`` seconds after its latest one before the
next attempt, doubling with each further failure up to ``max_delay``. Nothing locks: a correct
password always signs in once the wait is over, and another account is never slowed down by
the failures of one, unless they come from the same address in numbers beyond its own allowance.

``LoginLimiter`` keeps the records in memory (one process; tests). ``SharedLoginLimiter``, which
the service uses, keeps them in ``soc-users`` (soc.accounts.store), one document per address or account, changed by one
scripted update per attempt: the decision and the record are a single atomic step in OpenSearch,
shared by every service process.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from opensearchpy import OpenSearch

from soc.accounts import store
from soc.search import Names


@dataclass(frozen=True)
class Throttle:
    free_per_account: int = 5
    free_per_address: int = 30
    delay_s: float = 1.0
    max_delay_s: float = 60.0
    window_s: float = 900.0


def wait_for(times: list[float], free: int, t: Throttle, now: float) -> float:
    """Seconds the next attempt must still wait, given the recent attempts ``times`` (sorted)."""
    n = len(times)
    if n < free:
        return 0.0
    delay = min(t.max_delay_s, t.delay_s * 2.0 ** min(n - free, 30))
    return max(0.0, times[-1] + delay - now)


class LoginLimiter:
    def __init__(self, throttle: Throttle | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.t = throttle or Throttle()
        self.clock = clock
        self._attempts: dict[str, list[float]] = {}
        self._lock = Lock()

    def _keys(self, address: str, account: str) -> list[tuple[str, int]]:
        return [(f"a:{address}", self.t.free_per_address), (f"u:{account.lower()}", self.t.free_per_account)]

    def attempt(self, address: str, account: str) -> tuple[float, float]:
        """``(0, ticket)`` when the attempt may go ahead (it is recorded as a failure until
        ``succeeded``), else ``(seconds to wait, 0)`` and nothing is recorded."""
        now = self.clock()
        with self._lock:
            if len(self._attempts) > 100_000:  # bounded memory under a spray of names
                self._attempts.clear()
            recent = {k: [x for x in self._attempts.get(k, []) if x > now - self.t.window_s]
                      for k, _ in self._keys(address, account)}
            wait = max(wait_for(recent[k], free, self.t, now) for k, free in self._keys(address, account))
            if wait > 0:
                return wait, 0.0
            for key, times in recent.items():
                self._attempts[key] = [*times, now]
            return 0.0, now

    def succeeded(self, address: str, account: str, ticket: float) -> None:
        with self._lock:
            self._attempts.pop(f"u:{account.lower()}", None)
            times = self._attempts.get(f"a:{address}", [])
            if ticket in times:
                times.remove(ticket)


# One attempt on one key, decided and recorded in one step. Times are epoch milliseconds.
_ATTEMPT = """
if (ctx._source.attempts == null) { ctx._source.kind = 'login-failures'; ctx._source.attempts = []; }
def a = ctx._source.attempts;
a.removeIf(x -> x <= params.cutoff);
int n = a.size();
long wait = 0;
if (n >= params.free) {
  double d = Math.min(params.max_ms, params.delay_ms * Math.pow(2, Math.min(n - params.free, 30)));
  wait = ((Number) a.get(n - 1)).longValue() + (long) d - params.now;
}
if (wait > 0) { ctx.op = 'none'; } else {
  a.add(params.now);
  while (a.size() > params.keep) { a.remove(0); }
}
"""
_RETURN = "ctx._source.attempts.removeIf(x -> x == params.ticket);"


class SharedLoginLimiter(LoginLimiter):
    """The same throttle, with the attempts stored in OpenSearch (wall-clock times)."""

    def __init__(self, client: OpenSearch, names: Names, throttle: Throttle | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(throttle, clock)
        self.client, self.names = client, names

    @staticmethod
    def _id(key: str) -> str:
        return "login-failures-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]

    def _one(self, key: str, free: int, now_ms: int) -> float:
        params = {"now": now_ms, "cutoff": now_ms - int(self.t.window_s * 1000), "free": free,
                  "delay_ms": self.t.delay_s * 1000, "max_ms": self.t.max_delay_s * 1000, "keep": free + 40}
        source = store.login_attempt(self.client, self.names, self._id(key), _ATTEMPT, params)
        if source is None:
            return 0.0
        cutoff = params["cutoff"]
        times = sorted(int(x) / 1000 for x in source.get("attempts", []) if int(x) > cutoff)
        return max(wait_for(times, free, self.t, now_ms / 1000), 0.001)

    def attempt(self, address: str, account: str) -> tuple[float, float]:
        now_ms = int(self.clock() * 1000)
        for key, free in self._keys(address, account):  # the address first: it bounds what one sender spends
            wait = self._one(key, free, now_ms)
            if wait > 0:
                return wait, 0.0
        return 0.0, float(now_ms)

    def succeeded(self, address: str, account: str, ticket: float) -> None:
        store.login_succeeded(self.client, self.names, self._id(f"u:{account.lower()}"), self._id(f"a:{address}"),
                              _RETURN, {"ticket": int(ticket)})
