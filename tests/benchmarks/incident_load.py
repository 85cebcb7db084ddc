"""The incidents benchmark's requests: who sends them, the closed loop, and the open-loop plan.

A caller maps an agency to the token its requests carry: the admin token for every agency, or
the analyst token scoped to that agency alone. The requests are the same for both kinds; only
the token, and so the scope the API applies, differs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson

from soc.incidents import model
from tests.benchmarks import open_loop
from tests.benchmarks.http_client import Connection, check
from tests.benchmarks.incident_data import AGENCIES

Caller = Callable[[str], str]  # agency -> token


class Pools:
    """Incidents not changed yet, per agency: each status change takes a fresh one."""

    def __init__(self, incidents: int, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.free: dict[str, list[int]] = {}
        for idx, agency in enumerate(AGENCIES):
            ids = list(range(idx, incidents, len(AGENCIES)))
            rng.shuffle(ids)
            self.free[agency] = ids

    def take(self, agency: str) -> str:
        return f"inc{self.free[agency].pop():08d}"


def list_path(agency: str) -> str:
    query = urlencode({"agency": agency, "status": model.OPEN_STATUSES, "limit": 50}, doseq=True)
    return f"/api/v1/incidents?{query}"


def status_body(current: dict[str, Any]) -> dict[str, Any]:
    target = "resolved" if current["status"] == "in_progress" else "in_progress"  # reopen included
    body: dict[str, Any] = {"version": current["version"], "status": target}
    if target == "resolved":
        body["resolution"] = "benign"
    return body


async def closed(base: str, caller: Caller, clients: int, requests: int, pools: Pools) -> dict[str, list[float]]:
    """Each client: list, read (untimed), change the status; again as soon as answered."""
    times: dict[str, list[float]] = {"list": [], "status change": []}

    async def worker(c: int, n: int) -> None:
        http = Connection(base)
        try:
            for k in range(n):
                agency = AGENCIES[(c + k) % len(AGENCIES)]
                token = caller(agency)
                t = time.perf_counter()
                status, answer = await http.request("GET", list_path(agency), token)
                times["list"].append(time.perf_counter() - t)
                check(status, answer, "list")
                iid = pools.take(agency)
                status, answer = await http.request("GET", f"/api/v1/incidents/{iid}", token)
                check(status, answer, "read")
                t = time.perf_counter()
                status, answer = await http.request("PATCH", f"/api/v1/incidents/{iid}", token,
                                                    status_body(orjson.loads(answer)))
                times["status change"].append(time.perf_counter() - t)
                check(status, answer, "status change")
        finally:
            await http.close()

    await asyncio.gather(*(worker(c, requests // clients) for c in range(clients)))
    return times


async def _preread(base: str, items: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """The current state of each (incident, token), read before the clock starts."""
    todo, out = list(items), {}

    async def worker() -> None:
        http = Connection(base)
        try:
            while todo:
                iid, token = todo.pop()
                status, answer = await http.request("GET", f"/api/v1/incidents/{iid}", token)
                check(status, answer, "read")
                out[iid] = orjson.loads(answer)
        finally:
            await http.close()

    await asyncio.gather(*(worker() for _ in range(8)))
    return out


async def open_run(base: str, caller: Caller, rate: float, duration: float, seed: int,
                   pools: Pools) -> open_loop.Outcome:
    """Poisson arrivals at ``rate``/s, half listings of a random agency, half status changes."""
    rng = random.Random(seed)
    arrivals: list[tuple[float, str, str | None]] = []  # (time, agency, incident to change or None)
    for t in open_loop.schedule(rate, duration, seed):
        agency = rng.choice(AGENCIES)
        arrivals.append((t, agency, pools.take(agency) if rng.random() < 0.5 else None))
    current = await _preread(base, [(iid, caller(agency)) for _, agency, iid in arrivals if iid is not None])
    plan = [(t, open_loop.Request("list", "GET", list_path(agency), caller(agency))) if iid is None else
            (t, open_loop.Request("status change", "PATCH", f"/api/v1/incidents/{iid}", caller(agency),
                                  status_body(current[iid])))
            for t, agency, iid in arrivals]
    return await open_loop.run(base, plan)
