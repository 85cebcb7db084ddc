"""Login rate limit: failed attempts counted per client address and per account name.

A sliding window. An address or account that failed too often in the window is refused until its
oldest failure leaves the window, whether the password is right or not, so guessing gains nothing
by going on. A success clears the account's failures.

``LoginLimiter`` counts in memory (one process; tests). ``SharedLoginLimiter``, which the service
uses, keeps the failures in ``soc-users`` so that every service process (API workers, instances)
counts the same attempts: with a count per process, N workers would allow N times the guesses.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from threading import Lock
from typing import Any

from opensearchpy import OpenSearch

from soc.search import Names

MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20
WINDOW_S = 900.0
MAX_KEYS = 100_000


class LoginLimiter:
    def __init__(self, per_account: int = MAX_PER_ACCOUNT, per_address: int = MAX_PER_ADDRESS,
                 window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_account, self.per_address, self.window_s, self.clock = per_account, per_address, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, address: str, account: str) -> float:
        """Seconds until a login may be tried again (0 when it may be tried now)."""
        now = self.clock()
        with self._lock:
            waits = []
            for key, limit in ((f"a:{address}", self.per_address), (f"u:{account.lower()}", self.per_account)):
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[0] + self.window_s - now)
            return max(waits, default=0.0)

    def failed(self, address: str, account: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_KEYS:  # bounded memory under a spray of names
                self._failures.clear()
            for key in (f"a:{address}", f"u:{account.lower()}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{account.lower()}", None)


# Appends this failure, forgets those older than the window, keeps the newest KEEP: one document per
# address or account, updated in place (retried on conflict when processes fail at the same moment).
_APPEND = ("if (ctx._source.failures == null) { ctx._source.failures = []; }"
           "ctx._source.failures.removeIf(t -> t <= params.cutoff);"
           "ctx._source.failures.add(params.now);"
           "while (ctx._source.failures.size() > params.keep) { ctx._source.failures.remove(0); }")
KEEP = 50


class SharedLoginLimiter(LoginLimiter):
    """The same limits, with the failures stored in OpenSearch (wall-clock times, in ms)."""

    def __init__(self, client: OpenSearch, names: Names, per_account: int = MAX_PER_ACCOUNT,
                 per_address: int = MAX_PER_ADDRESS, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(per_account, per_address, window_s, clock)
        self.client, self.names = client, names

    @staticmethod
    def _id(key: str) -> str:
        return "login-failures-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]

    def _keys(self, address: str, account: str) -> list[tuple[str, int]]:
        return [(f"a:{address}", self.per_address), (f"u:{account.lower()}", self.per_account)]

    def retry_after(self, address: str, account: str) -> float:
        now_ms = int(self.clock() * 1000)
        window_ms = int(self.window_s * 1000)
        keys = self._keys(address, account)
        docs = self.client.mget(index=self.names.users, body={"ids": [self._id(k) for k, _ in keys]})["docs"]
        waits: list[float] = []
        for (_, limit), doc in zip(keys, docs, strict=True):
            source: dict[str, Any] = doc.get("_source") or {}
            if not doc.get("found") or source.get("kind") != "login-failures":
                continue
            recent = sorted(int(t) for t in source.get("failures", []) if int(t) > now_ms - window_ms)
            if len(recent) >= limit:
                waits.append((recent[-limit] + window_ms - now_ms) / 1000)
        return max(waits, default=0.0)

    def failed(self, address: str, account: str) -> None:
        now_ms = int(self.clock() * 1000)
        params = {"now": now_ms, "cutoff": now_ms - int(self.window_s * 1000), "keep": KEEP}
        for key, _ in self._keys(address, account):
            self.client.update(index=self.names.users, id=self._id(key), retry_on_conflict=10, refresh=False,
                               body={"script": {"lang": "painless", "source": _APPEND, "params": params},
                                     "upsert": {"kind": "login-failures", "failures": [now_ms]}})

    def succeeded(self, account: str) -> None:
        self.client.delete(index=self.names.users, id=self._id(f"u:{account.lower()}"), ignore=[404])
