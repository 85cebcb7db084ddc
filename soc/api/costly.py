"""Costly reads and jobs behind the API and the console: results kept for a short time, and a
per-caller budget for work that cannot be cached.

``Recent`` keeps a computed value per key for ``ttl_s`` seconds (at most ``max_items``, the oldest
dropped first); callers asking for the same key while it is being computed wait for that one
computation instead of starting their own. ``Budget`` allows each caller ``per_window`` uses in a
sliding window of ``window_s`` seconds and refuses the next with ``TooMany`` (HTTP 429 with
Retry-After). Both are per process, created on first use.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from soc.errors import TooMany

V = TypeVar("V")


class Recent(Generic[V]):
    def __init__(self, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_items, self.clock = ttl_s, max_items, clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def _fresh(self, key: Hashable) -> tuple[bool, V | None]:
        with self._lock:
            found = self._items.get(key)
            if found is not None and self.clock() - found[0] < self.ttl_s:
                return True, found[1]
            return False, None

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        hit, value = self._fresh(key)
        if hit:
            return value  # type: ignore[return-value]
        with self._lock:
            gate = self._making.setdefault(key, threading.Lock())
        with gate:  # one computation per key at a time; the others then find its result
            hit, value = self._fresh(key)
            if hit:
                return value  # type: ignore[return-value]
            made = make()
            with self._lock:
                self._items[key] = (self.clock(), made)
                self._items.move_to_end(key)
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
                self._making.pop(key, None)
            return made


class Budget:
    def __init__(self, per_window: int, window_s: float, what: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_window, self.window_s, self.what, self.clock = per_window, window_s, what, clock
        self._uses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def spend(self, caller: str) -> None:
        """Count one use by ``caller``, or raise ``TooMany`` when its budget is spent."""
        now = self.clock()
        with self._lock:
            if len(self._uses) > 10_000:
                self._uses.clear()
            uses = self._uses.setdefault(caller, deque())
            while uses and uses[0] <= now - self.window_s:
                uses.popleft()
            if len(uses) >= self.per_window:
                wait = uses[0] + self.window_s - now
                raise TooMany(f"{self.what}: at most {self.per_window} per {self.window_s:g} s per caller; "
                              f"try again in {max(1, round(wait))} s", wait)
            uses.append(now)


T = TypeVar("T")
_shared: dict[str, object] = {}
_shared_lock = threading.Lock()


def shared(name: str, make: Callable[[], T]) -> T:
    """This process's one ``name`` (a cache or a budget), made by ``make`` on first use."""
    with _shared_lock:
        if name not in _shared:
            _shared[name] = make()
        return _shared[name]  # type: ignore[return-value]
