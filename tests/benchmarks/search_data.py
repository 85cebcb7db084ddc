"""Stored web-access events for the search benchmark: generated, parsed by the collector's own parser,
and loaded into the agencies' data streams in bulk.

Events: combined-format access lines of 41 agencies' portals (agencies of unequal size), in event-time
order over ``days`` days ending at ``end``, from the pools of ``tests/benchmarks/corpus.py`` (thousands
of agents and paths, skewed popularity) and about 200,000 client addresses (skewed too). One request in
200 is ``/wp-login.php``. Each line goes through ``collectors.parsers.parse`` and gets the fields the
collector adds (``organization.id``, ``agent.*``, ``observer.name``, ``log.source.id``, ``tags``), as
``collectors.pipeline`` does.

Two ways to load:

- ``pipeline``: the documents as the collector sends them, through the node's ingest pipeline (the
  product's path; events older than the lateness bound on arrival get ``_late``, ``event.ingested`` is
  the load time);
- ``precomputed`` (for 10 million events): the ingest pipeline's output computed here, as it would have
  been had each event arrived live a few seconds after it happened: ``event.ingested`` set, nothing
  tagged (the sources are registered, the times on time). The streams' final pipeline is switched off
  for the load and restored after. ``check_precomputed`` shows on a sample of recent events that the
  documents are the ones the pipeline writes, ``event.ingested`` apart.

During a load the streams' backing indices have ``refresh_interval: -1`` (restored to the template's
value after), no replicas (one node), the translog synced every 5 s instead of per request (back to
per request after), and ``_bulk`` requests of ``batch`` events go out from
``threads`` client threads while the main thread makes the next ones.
"""

from __future__ import annotations

import hashlib
import queue
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from opensearchpy import OpenSearch

from collectors.parsers import ParseContext, parse
from soc.opensearch import ingest
from soc.search import Names
from tests.benchmarks.corpus import Vocabulary, _skewed

AGENCIES = [f"so-{i:02d}" for i in range(20)] + [f"huyen-{i:02d}" for i in range(21)]
WEIGHTS = [3.0] * 20 + [1.0] * 21  # departments' portals are busier than districts'
STATUS = [200] * 80 + [304] * 8 + [301] * 3 + [404] * 5 + [403] * 2 + [500] * 2
POOL = 1_000_000  # draws of the skewed pools before they repeat
WP_LOGIN = "/wp-login.php"


def source_id(agency: str) -> str:
    return f"portal-access-{agency}"


def collector_id(agency: str) -> str:
    return f"col-{agency}"


def _addresses(rng: random.Random, count: int) -> list[str]:
    out = set()
    while len(out) < count:
        out.add(f"{rng.choice((14, 27, 42, 113, 116, 171, 183, 203))}.{rng.randrange(256)}.{rng.randrange(256)}."
                f"{rng.randrange(1, 255)}")
    return sorted(out)


class Generator:
    """Events in event-time order; the same seed and arguments give the same events."""

    def __init__(self, end: datetime, days: float, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rng, self.end, self.span = rng, end, timedelta(days=days).total_seconds()
        self.vocab = Vocabulary.make(POOL, seed=seed)
        self.ips = _addresses(rng, 200_000)
        self.ip_order = _skewed(rng, len(self.ips), POOL, exponent=0.8)
        self.agency_order = rng.choices(range(len(AGENCIES)), weights=WEIGHTS, k=POOL)

    def events(self, n: int, start_at: int = 0) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(document id, data stream, document as the collector sends it) for events start_at .. n-1."""
        rng, first = self.rng, self.end.timestamp() - self.span
        for i in range(start_at, n):
            when = datetime.fromtimestamp(first + self.span * (i + rng.random()) / n, UTC)
            agency = AGENCIES[self.agency_order[i % POOL]]
            ip = self.ips[self.ip_order[(i * 7919) % POOL]]
            path = WP_LOGIN if i % 200 == 0 else self.vocab.path(i)
            method = "POST" if path == WP_LOGIN or rng.random() < 0.05 else "GET"
            status = 404 if path == WP_LOGIN else rng.choice(STATUS)
            size = 0 if status == 304 else rng.randrange(200, 90_000)
            ref = "-" if rng.random() < 0.4 else f"https://portal.{agency}.gov.vn{self.vocab.path(i + 17)}"
            line = (f'{ip} - - [{when:%d/%b/%Y:%H:%M:%S +0000}] "{method} {path} HTTP/1.1" {status} {size} '
                    f'"{ref}" "{self.vocab.agent(i)}"')
            yield doc_id(agency, i), agency, collected(line, agency, when)


def doc_id(agency: str, offset: int) -> str:
    """Deterministic, as the collector's (source and position)."""
    return hashlib.blake2b(f"{source_id(agency)}\0{offset}".encode(), digest_size=16).hexdigest()


def collected(line: str, agency: str, received: datetime) -> dict[str, Any]:
    """The document the collector sends for one line of an agency's portal access log."""
    event = parse("nginx", line.encode(), ParseContext(received_at=received, domain=f"portal.{agency}.gov.vn"))
    if not isinstance(event.get("tags"), list):
        event["tags"] = []
    event["organization"] = {"id": agency}
    event["agent"] = {"id": collector_id(agency), "type": "soc-collector", "version": "bench"}
    event["observer"] = {"name": collector_id(agency)}
    event.setdefault("log", {}).setdefault("source", {})["id"] = source_id(agency)
    return event


def pipeline_output(event: dict[str, Any], delay_s: float) -> dict[str, Any]:
    """What the ingest pipeline stores for an event of a registered source of its stream's agency that
    arrived ``delay_s`` after it happened (on time: no tag, organization.id already the stream's)."""
    when = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00")) + timedelta(seconds=delay_s)
    event["event"]["ingested"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def register_sources(client: OpenSearch, names: Names) -> None:
    """The portals as onboarded sources in the pipeline's tenancy step (what adding them does)."""
    body = client.ingest.get_pipeline(id=names.pipeline)[names.pipeline]
    step = next(p for p in body["processors"] if p.get("script", {}).get("tag") == ingest.TENANCY_TAG)
    step["script"]["params"]["sources"] = {a: {source_id(a): True} for a in AGENCIES}
    client.ingest.put_pipeline(id=names.pipeline, body=body)


def _streams(names: Names) -> list[str]:
    return [names.stream("logs-web", a) for a in AGENCIES]


def prepare(client: OpenSearch, names: Names, precomputed: bool) -> None:
    """Create the agencies' web streams and set their backing indices for a bulk load."""
    register_sources(client, names)
    for stream in _streams(names):
        client.indices.create_data_stream(name=stream, ignore=[400])
    settings: dict[str, Any] = {"refresh_interval": "-1", "number_of_replicas": 0,
                                "translog.durability": "async"}
    if precomputed:
        settings["final_pipeline"] = "_none"
    client.indices.put_settings(index=names.web, body={"index": settings})


def finish(client: OpenSearch, names: Names) -> None:
    """Back to the template's settings: refresh every second, the ingest pipeline as final pipeline."""
    client.indices.put_settings(index=names.web, body={"index": {"refresh_interval": "1s",
                                                                 "translog.durability": "request",
                                                                 "final_pipeline": names.pipeline}})
    client.indices.refresh(index=names.web)


def load(client: OpenSearch, names: Names, gen: Generator, n: int, precomputed: bool, batch: int = 4000,
         threads: int = 2, progress_every: int = 500_000, budget_s: float | None = None) -> int:
    """Write ``n`` events, or the first of them that go out within ``budget_s`` seconds; returns how many
    were created (refusals raise)."""
    bodies: queue.Queue[bytes | None] = queue.Queue(maxsize=threads * 2)
    made, errors = [0], []
    lock = threading.Lock()

    def sender() -> None:
        while (body := bodies.get()) is not None:
            if errors:
                continue
            try:
                resp = client.bulk(body=body, request_timeout=300)
            except Exception as exc:  # reported by the main thread
                errors.append(repr(exc))
                continue
            ok = sum(1 for item in resp["items"] if item["create"].get("status", 500) < 300)
            if ok < len(resp["items"]):
                bad = next(i["create"] for i in resp["items"] if i["create"].get("status", 500) >= 300)
                if bad.get("status") != 409:
                    errors.append(str(bad.get("error")))
            with lock:
                made[0] += ok

    workers = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    rng = random.Random(11)
    lines: list[bytes] = []
    t0 = time.monotonic()
    for k, (doc_id_, agency, event) in enumerate(gen.events(n), 1):
        if precomputed:
            event = pipeline_output(event, rng.uniform(0.5, 5.0))
        lines.append(b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (
            names.stream("logs-web", agency).encode(), doc_id_.encode(), orjson.dumps(event)))
        if len(lines) == batch:
            bodies.put(b"".join(lines))
            lines = []
        if k % progress_every == 0:
            print(f"  {k:,} events generated, {made[0]:,} stored, {time.monotonic() - t0:.0f} s", flush=True)
        if errors or (budget_s is not None and time.monotonic() - t0 > budget_s):
            break
    if lines and not errors:
        bodies.put(b"".join(lines))
    for _ in workers:
        bodies.put(None)
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"events were refused: {errors[0]}")
    return made[0]


def check_precomputed(client: OpenSearch, names: Names, n: int = 2000) -> str:
    """Write ``n`` recent events (the last 10 minutes) through the ingest pipeline and compare what is
    stored with the precomputed documents of the same events; a sentence saying how they compare."""
    gen = Generator(datetime.now(UTC), days=10 / 1440, seed=3)
    register_sources(client, names)
    ours: dict[str, dict[str, Any]] = {}
    ops: list[dict[str, Any]] = []
    for doc_id_, agency, event in gen.events(n):
        ours[doc_id_] = pipeline_output(orjson.loads(orjson.dumps(event)), 1.0)
        ops += [{"create": {"_index": names.stream("logs-web", agency), "_id": doc_id_}}, event]
    client.bulk(body=ops, refresh=True, request_timeout=120)
    stored: dict[str, dict[str, Any]] = {}
    resp = client.search(index=names.web, body={"size": n, "query": {"match_all": {}}})
    for hit in resp["hits"]["hits"]:
        stored[hit["_id"]] = hit["_source"]
    same = differ = 0
    first_diff = ""
    for key, doc in ours.items():
        theirs = stored.get(key)
        if theirs is None:
            differ += 1
            first_diff = first_diff or f"{key} not stored"
            continue
        ingested = theirs["event"].pop("ingested", "")
        doc["event"].pop("ingested")
        if theirs == doc and len(ingested) == len("2026-01-01T00:00:00.000Z") and ingested.endswith("Z"):
            same += 1
        else:
            differ += 1
            first_diff = first_diff or f"{key}: stored {orjson.dumps(theirs)!r} computed {orjson.dumps(doc)!r}"
    return (f"{same} of {len(ours)} pipeline-written documents equal the precomputed ones (event.ingested "
            f"apart, same format)" + (f"; {differ} differ, first: {first_diff[:600]}" if differ else ""))
