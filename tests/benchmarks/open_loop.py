"""An open-loop load generator: requests sent on a schedule that does not wait for the answers.

Arrivals are a Poisson process at the target rate (exponential gaps, seeded), fixed before the
run starts. Each request is sent at its scheduled time on an idle kept-alive connection, or on a
new one when every open connection is busy, so a slow answer never delays the next arrival.
Latency is measured from the scheduled send time, not from the moment the request actually left:
when the server (or the generator) falls behind, the waiting counts (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.http_client import Connection, check


@dataclass(frozen=True)
class Request:
    kind: str  # what the figures are grouped by ("list", "status change")
    method: str
    path: str
    token: str
    body: dict[str, Any] | None = None


@dataclass
class Outcome:
    latency: dict[str, list[float]] = field(default_factory=dict)  # from the scheduled time, seconds
    send_lag: list[float] = field(default_factory=list)  # how late the generator sent, seconds
    connections: int = 0  # the most connections open at once
    elapsed: float = 0.0


def schedule(rate: float, duration: float, seed: int) -> list[float]:
    """Poisson arrival times (seconds from the start) at ``rate`` per second over ``duration``."""
    rng = random.Random(seed)
    times, t = [], rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times


async def run(base: str, plan: list[tuple[float, Request]]) -> Outcome:
    """Sends every planned request at its time; returns the latencies per kind."""
    out = Outcome(latency={r.kind: [] for _, r in plan})
    idle: list[Connection] = []
    opened = 0
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(due: float, request: Request) -> None:
        nonlocal opened
        if idle:
            http = idle.pop()
        else:
            http = Connection(base)
            opened += 1
            out.connections = max(out.connections, opened - len(idle))
        out.send_lag.append(loop.time() - due)
        try:
            status, answer = await http.request(request.method, request.path, request.token, request.body)
        except BaseException:
            await http.close()
            opened -= 1
            raise
        out.latency[request.kind].append(loop.time() - due)
        check(status, answer, request.kind)
        idle.append(http)

    began = time.perf_counter()
    for offset, request in plan:
        due = start + offset
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, request)))
    await asyncio.gather(*tasks)
    out.elapsed = time.perf_counter() - began
    for http in idle:
        await http.close()
    return out
