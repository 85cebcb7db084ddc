"""Login rate limit: failed attempts counted per client address and per account name.

A sliding window in memory, per process. An address or account that failed too often in the
window is refused until its oldest failure leaves the window, whether the password is right or
not, so guessing gains nothing by going on. A success clears the account's failures.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock

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
