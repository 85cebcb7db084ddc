"""Sign-in throttling stored in OpenSearch: every service process sees the same attempts, and
deciding on an attempt and recording it is one step, so parallel guesses cannot slip through."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from soc import search
from soc.accounts.limiter import SharedLoginLimiter, Throttle
from soc.config import Settings

T = Throttle(free_per_account=3, free_per_address=5, delay_s=2.0, max_delay_s=8.0, window_s=60)


def test_two_processes_share_one_throttle_and_a_success_takes_its_attempt_back(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    now = [1_800_000_000.0]
    worker_a = SharedLoginLimiter(client, names, T, clock=lambda: now[0])
    worker_b = SharedLoginLimiter(client, names, T, clock=lambda: now[0])
    assert worker_a.attempt("10.0.0.1", "ana")[0] == 0
    assert worker_b.attempt("10.0.0.2", "Ana")[0] == 0  # another worker, another address, the same account
    assert worker_a.attempt("10.0.0.3", "ana")[0] == 0
    # three failed attempts across two processes: the next one on the account waits 2 s, from anywhere
    assert worker_b.attempt("10.0.0.9", "ANA") == (2.0, 0.0)
    assert worker_a.attempt("10.0.0.9", "bob")[0] == 0  # another account is not slowed down
    now[0] += 2
    assert worker_a.attempt("10.0.0.9", "ana")[0] == 0  # the wait is over: one more try
    now[0] += 3
    assert worker_a.attempt("10.0.0.9", "ana") == (1.0, 0.0)  # 4 failures: 4 s after the last one
    now[0] += 1
    wait, ticket = worker_b.attempt("10.0.0.9", "ana")
    assert wait == 0
    worker_b.succeeded("10.0.0.9", "ana", ticket)  # the right password: the account starts afresh
    assert worker_a.attempt("10.0.0.8", "ana")[0] == 0
    # an address spraying names is slowed down too, whatever the name
    for n in range(5):
        assert worker_b.attempt("10.0.0.7", f"user{n}")[0] == 0
    assert worker_a.attempt("10.0.0.7", "someone-else")[0] > 0
    client.indices.refresh(index=names.users)
    kinds = client.search(index=names.users, body={"size": 0, "aggs": {"k": {"terms": {"field": "kind"}}}})
    assert {b["key"] for b in kinds["aggregations"]["k"]["buckets"]} == {"login-failures"}


def test_parallel_attempts_get_no_more_tries_than_the_allowance(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    workers = [SharedLoginLimiter(client, names, T) for _ in range(4)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: workers[i % 4].attempt(f"10.1.0.{i}", "victim"), range(40)))
    # with a separate check and record, most of the 40 would pass the check before any is recorded
    assert sum(1 for wait, _ in results if wait == 0) == T.free_per_account
