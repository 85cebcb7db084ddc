"""The ingest pipeline every log data stream runs as its final pipeline: the one place it is declared.

In order, for every event whoever writes it (collector, replay, migration, a foreign shipper):

1. ``event.ingested``: the time OpenSearch indexed the event (detection windows use it);
2. tenancy (TENANCY_SCRIPT): ``organization.id`` is the agency of the data stream written to,
   ``logs-<dataset>-<agency>``, whatever the document claims (a differing claim is kept in
   ``soc.claimed_organization_id``); a target that names no valid agency is refused; an event whose
   ``log.source.id`` is not a registered source of that agency is tagged ``_unknown_source``;
3. event time against arrival (EVENT_TIME_SCRIPT): ``_late``, ``_future_timestamp``, ``_time_missing``;
4. addresses (soc.opensearch.geoip): ``labels.source_ip_scope`` / ``labels.destination_ip_scope`` on
   private, documentation and other special addresses, and ``<side>.geo.*`` / ``<side>.as.*`` on public
   ones from the operator's databases, when the node has them.

The registered sources are the tenancy step's parameters (agency -> {source id: true}): ``soc init``
writes them, and adding or removing a source rewrites them (``refresh_sources``), leaving the other
steps as they are.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.opensearch import geoip
from soc.search import LOG_STREAMS, Names
from soc.sources import store as sources_store

TENANCY_TAG = "soc-tenancy"
UNKNOWN_SOURCE = "_unknown_source"

# ctx._index is the data stream named in the request. Agency ids are checked character by character
# (no regular expression: the node may forbid them in scripts), by the rule of soc.search.AGENCY_ID_PATTERN.
TENANCY_SCRIPT = """
String target = ctx._index;
String agency = null;
for (String head : params.heads) {
  if (target != null && target.startsWith(head)) { agency = target.substring(head.length()); }
}
boolean valid = agency != null && agency.length() >= 2 && agency.length() <= 64 && agency.charAt(0) != (char) '-';
if (valid) {
  for (int i = 0; i < agency.length(); i++) {
    char c = agency.charAt(i);
    if (!((c >= (char) 'a' && c <= (char) 'z') || (c >= (char) '0' && c <= (char) '9') || c == (char) '-')) {
      valid = false;
    }
  }
}
if (!valid) {
  throw new IllegalArgumentException('refused: [' + target + '] is not the log data stream of a valid agency');
}
def org = ctx.organization;
if (!(org instanceof Map)) { org = new HashMap(); }
def claimed = org.id;
if (claimed != null && claimed != agency) {
  if (ctx.soc == null || !(ctx.soc instanceof Map)) { ctx.soc = new HashMap(); }
  ctx.soc.claimed_organization_id = String.valueOf(claimed);
}
org.id = agency;
ctx.organization = org;
def sid = null;
if (ctx.log instanceof Map && ctx.log.source instanceof Map) { sid = ctx.log.source.id; }
def known = params.sources.get(agency);
if (!(sid instanceof String) || known == null || !known.containsKey(sid)) {
  def tags = ctx.tags;
  if (tags == null) { tags = new ArrayList(); }
  else if (!(tags instanceof List)) { List one = new ArrayList(); one.add(tags); tags = one; }
  if (!tags.contains(params.unknown)) { tags.add(params.unknown); }
  ctx.tags = tags;
}
"""

# Event time checked against arrival time, in the ingest pipeline so that every writer (collector,
# replay, a foreign shipper) is judged alike. Tags: _time_missing (no readable @timestamp: the arrival
# time stands in), _future_timestamp (later than arrival by more than the skew bound: clamped to the
# arrival time, the claimed time kept in soc.original_timestamp), _late (older than the lateness bound
# on arrival: stored and searchable, single-event rules run on it, correlations leave it out).
EVENT_TIME_SCRIPT = """
String arrived = ctx.event.ingested;
ZonedDateTime now = ZonedDateTime.parse(arrived);
def claimed = ctx['@timestamp'];
ZonedDateTime t = null;
if (claimed instanceof String) {
  try { t = ZonedDateTime.parse(claimed); } catch (Exception e) { t = null; }
} else if (claimed instanceof Number) {
  t = ZonedDateTime.ofInstant(Instant.ofEpochMilli(((Number) claimed).longValue()), ZoneOffset.UTC);
}
String mark = null;
if (t == null) {
  mark = '_time_missing';
  ctx['@timestamp'] = arrived;
} else {
  long older = ChronoUnit.MILLIS.between(t, now);
  if (older < -params.future_ms) {
    mark = '_future_timestamp';
    if (ctx.soc == null || !(ctx.soc instanceof Map)) { ctx.soc = new HashMap(); }
    ctx.soc.original_timestamp = claimed;
    ctx['@timestamp'] = arrived;
  } else if (older > params.late_ms) {
    mark = '_late';
  }
}
if (mark != null) {
  def tags = ctx.tags;
  if (tags == null) { tags = new ArrayList(); }
  else if (!(tags instanceof List)) { List one = new ArrayList(); one.add(tags); tags = one; }
  if (!tags.contains(mark)) { tags.add(mark); }
  ctx.tags = tags;
}
"""


def registered_sources(client: OpenSearch, names: Names) -> dict[str, dict[str, bool]]:
    """agency -> {source id: True} of every onboarded source (empty before ``soc-sources`` exists)."""
    if not client.indices.exists(index=names.sources):
        return {}
    out: dict[str, dict[str, bool]] = {}
    for doc in sources_store.search(client, names):
        out.setdefault(str(doc["organization"]["id"]), {})[str(doc["id"])] = True
    return out


def tenancy_step(names: Names, sources: dict[str, dict[str, bool]]) -> dict[str, Any]:
    return {"script": {"tag": TENANCY_TAG, "lang": "painless", "source": TENANCY_SCRIPT.strip(), "params": {
        "heads": [f"{names.prefix}{logical}-" for logical in LOG_STREAMS], "sources": sources,
        "unknown": UNKNOWN_SOURCE}}}


def ingest_pipeline(names: Names, sources: dict[str, dict[str, bool]] | None = None,
                    late_after_s: float = 7 * 86400, future_after_s: float = 300,
                    lookups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole pipeline, steps in order (see the module's description); ``lookups``: the geoip steps
    (soc.opensearch.geoip.lookup_steps), none when no database is configured."""
    return {
        "description": "Stamps event.ingested, sets organization.id from the agency of the data stream, tags "
                       "events of unregistered sources and late, future and missing event times, labels "
                       "special addresses and adds geo and AS data to public ones",
        "processors": [
            {"date": {"field": "_ingest.timestamp", "target_field": "event.ingested",
                      "formats": ["ISO8601"], "output_format": "strict_date_optional_time"}},
            tenancy_step(names, sources or {}),
            {"script": {"lang": "painless", "source": EVENT_TIME_SCRIPT.strip(),
                        "params": {"late_ms": int(late_after_s * 1000), "future_ms": int(future_after_s * 1000)}}},
            geoip.scope_step(),
            *(lookups or []),
        ],
    }


def refresh_sources(client: OpenSearch, names: Names) -> bool:
    """Rewrite the tenancy step's registered sources from ``soc-sources`` (after a source is added or
    removed, and by the periodic health check); False when the pipeline does not exist yet."""
    try:
        body = client.ingest.get_pipeline(id=names.pipeline)[names.pipeline]
    except NotFoundError:
        return False
    sources = registered_sources(client, names)
    step = next((p for p in body.get("processors", []) if p.get("script", {}).get("tag") == TENANCY_TAG), None)
    if step is None or step["script"].get("params", {}).get("sources") == sources:
        return step is not None
    step["script"]["params"]["sources"] = sources
    client.ingest.put_pipeline(id=names.pipeline, body=body)
    return True
