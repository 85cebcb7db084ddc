"""Login failures counted in OpenSearch: every service process sees the same attempts."""

from __future__ import annotations

from soc import search
from soc.config import Settings
from soc.web.ratelimit import SharedLoginLimiter


def test_two_processes_share_one_count_and_a_success_clears_the_account(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    now = [1_800_000_000.0]
    worker_a = SharedLoginLimiter(client, names, per_account=3, per_address=5, window_s=60, clock=lambda: now[0])
    worker_b = SharedLoginLimiter(client, names, per_account=3, per_address=5, window_s=60, clock=lambda: now[0])
    worker_a.failed("10.0.0.1", "ana")
    worker_b.failed("10.0.0.2", "Ana")  # another worker, another address, the same account
    assert worker_a.retry_after("10.0.0.3", "ana") == 0
    now[0] += 10
    worker_a.failed("10.0.0.3", "ana")
    # three failures across two processes lock the account in both, from any address
    assert worker_b.retry_after("10.0.0.9", "ANA") == 50.0  # until the first failure is 60 s old
    assert worker_a.retry_after("10.0.0.9", "ana") == 50.0
    assert worker_a.retry_after("10.0.0.9", "bob") == 0
    for n in range(5):  # an address spraying names is stopped too
        worker_b.failed("10.0.0.7", f"user{n}")
    assert worker_a.retry_after("10.0.0.7", "someone-else") > 0
    now[0] += 51  # the oldest failure left the window
    assert worker_a.retry_after("10.0.0.9", "ana") == 0
    worker_b.failed("10.0.0.9", "ana")
    worker_b.failed("10.0.0.9", "ana")
    assert worker_a.retry_after("10.0.0.9", "ana") > 0
    worker_a.succeeded("ana")
    assert worker_b.retry_after("10.0.0.8", "ana") == 0
    # the failures are documents of their own kind beside users and tokens, not users
    client.indices.refresh(index=names.users)
    kinds = client.search(index=names.users, body={"size": 0, "aggs": {"k": {"terms": {"field": "kind"}}}})
    assert {b["key"] for b in kinds["aggregations"]["k"]["buckets"]} == {"login-failures"}
