"""`soc init`: create or check, idempotently, everything the service needs in OpenSearch.

Each step reports ``created``, ``updated`` or ``unchanged``. A field that already exists with
another type is a conflict: it is reported by index and field name and never overwritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import maxminddb
from opensearchpy import NotFoundError, OpenSearch, RequestError

from soc import search
from soc.config import Settings
from soc.detection import settings as detect_settings
from soc.errors import BootstrapError
from soc.intel import settings as intel_settings
from soc.opensearch import geoip, ingest, migrate, templates
from soc.search import LOG_STREAMS, SYSTEM_INDICES, Names


@dataclass
class Report:
    steps: list[tuple[str, str]] = field(default_factory=list)  # (what, outcome)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, outcome: str) -> None:
        self.steps.append((what, outcome))

    @property
    def changed(self) -> bool:
        return any(outcome != "unchanged" for _, outcome in self.steps)


def _subset(want: Any, have: Any) -> bool:
    """True when everything in ``want`` is in ``have`` with the same value (OpenSearch adds defaults)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _subset(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(
            _subset(a, b) for a, b in zip(want, have, strict=True))
    if isinstance(want, bool) or isinstance(have, bool):
        return str(want).lower() == str(have).lower()
    return want == have or str(want) == str(have)


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys (``{"store": {"type": "niofs"}}`` -> ``{"store.type": "niofs"}``)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _leaf_types(props: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in props.items():
        full = f"{prefix}{name}"
        if "properties" in spec and "type" not in spec:
            out.update(_leaf_types(spec["properties"], full + "."))
        else:
            out[full] = spec
    return out


def mapping_conflicts(index: str, want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """Fields whose existing type or normalizer differs from ours, as 'index: field (has X, needs Y)'."""
    wanted = _leaf_types(want)
    existing = _leaf_types(have)
    out = []
    for name, spec in wanted.items():
        cur = existing.get(name)
        if cur is None:
            continue
        for key in ("type", "normalizer"):
            if spec.get(key, "object") != cur.get(key, "object") and not (key == "normalizer" and key not in spec
                                                                          and key not in cur):
                out.append(f"{index}: field {name!r} is {key} {cur.get(key)!r}, the service needs "
                           f"{spec.get(key)!r}")
    return out


def missing_fields(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """Fields (and sub-fields such as ``url.original.wildcard``) of ``want`` that ``have`` lacks."""
    existing = _leaf_types(have)
    out: list[str] = []
    for name, spec in _leaf_types(want).items():
        cur = existing.get(name)
        if cur is None:
            out.append(name)
            continue
        out += [f"{name}.{sub}" for sub in spec.get("fields", {}) if sub not in cur.get("fields", {})]
    return out


class Bootstrap:
    def __init__(self, settings: Settings, client: OpenSearch, names: Names,
                 lateness_s: float | None = None) -> None:
        self.settings = settings
        self.lateness_s = lateness_s
        self.client = client
        self.names = names
        self.report = Report()

    def replicas(self) -> int:
        nodes = int(self.client.cluster.health()["number_of_data_nodes"])
        return 1 if nodes > 1 else 0

    def run(self) -> Report:
        replicas = self.replicas()
        conflicts: list[str] = []
        for logical in SYSTEM_INDICES:  # first: the pipeline reads the registered sources
            conflicts += self._system_index(logical, replicas)
        self._pipeline()
        for stream in LOG_STREAMS:
            conflicts += self._stream(stream, replicas)
        for what, outcome in migrate.upgrade(self.client, self.names):
            self.report.add(what, outcome)
        self._ism()
        if conflicts:
            raise BootstrapError("existing mappings conflict with the service's (left as they are):\n  "
                                 + "\n  ".join(conflicts))
        return self.report

    def _pipeline(self) -> None:
        name = self.names.pipeline
        ds = detect_settings.load()
        late = ds.lateness_s if self.lateness_s is None else self.lateness_s
        sources = ingest.registered_sources(self.client, self.names)
        lookups = self._geo_lookups()
        body = ingest.ingest_pipeline(self.names, sources, late, ds.future_skew_s, lookups)
        try:
            have = self.client.ingest.get_pipeline(id=name)[name]
        except NotFoundError:
            have = None
        if have is not None and _subset(body, have):
            self.report.add(f"ingest pipeline {name}", "unchanged")
            return
        try:
            self.client.ingest.put_pipeline(id=name, body=body)
        except RequestError as exc:
            if not lookups:
                raise
            # The node lacks the ingest-geoip module or the databases (a cluster the service did not
            # start): events still flow, with scope labels only, and the operator is told why.
            info = exc.info if isinstance(exc.info, dict) else {}
            reason = (info.get("error") or {}).get("reason") if isinstance(info.get("error"), dict) else None
            self.report.notes.append(f"address enrichment at ingest is off: the cluster refused the geoip "
                                     f"processors ({reason or exc.error}); see README, 'Address enrichment'")
            body = ingest.ingest_pipeline(self.names, sources, late, ds.future_skew_s)
            if have is not None and _subset(body, have):
                self.report.add(f"ingest pipeline {name}", "unchanged")
                return
            self.client.ingest.put_pipeline(id=name, body=body)
        self.report.add(f"ingest pipeline {name}", "created" if have is None else "updated")

    def _geo_lookups(self) -> list[dict[str, Any]]:
        """The geoip steps for the operator's databases (SOC_GEOIP_DATABASES); a file that cannot be read
        or is of a kind the module does not serve is left out with a note."""
        usable: list[tuple[Path, str]] = []
        for path in intel_settings.load().geoip_databases:
            try:
                kind = geoip.kind(path)
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                self.report.notes.append(f"address enrichment: cannot read {path} ({exc}); left out")
                continue
            if kind is None:
                self.report.notes.append(f"address enrichment: {path} is not a City, Country or GeoLite2-ASN "
                                         "database; left out of the ingest pipeline")
                continue
            usable.append((path, kind))
        return geoip.lookup_steps(usable)

    def _stream(self, stream: str, replicas: int) -> list[str]:
        """The template of a log stream's per-agency data streams, and a check of those that exist
        (each agency's stream is created by its first write)."""
        name = self.names.template(stream)
        body = templates.stream_template(self.settings, self.names, stream, replicas)
        try:
            have = self.client.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
        except NotFoundError:
            have = None
        if have is not None and _subset(body, have):
            self.report.add(f"index template {name}", "unchanged")
        else:
            self.client.indices.put_index_template(name=name, body=body)
            self.report.add(f"index template {name}", "created" if have is None else "updated")
        try:
            streams = self.client.indices.get_data_stream(name=self.names.pattern(stream))["data_streams"]
        except NotFoundError:
            streams = []
        placeholder = self.names.placeholder(stream)
        if not any(info["name"] == placeholder for info in streams):
            self.client.indices.create_data_stream(name=placeholder)
            self.report.add(f"data stream {placeholder}", "created")
        conflicts: list[str] = []
        for info in streams:
            conflicts += self._check_stream(info, body)
        return conflicts

    def _check_stream(self, info: dict[str, Any], body: dict[str, Any]) -> list[str]:
        name = info["name"]
        write_index = info["indices"][-1]["index_name"]
        have_map = self.client.indices.get_mapping(index=write_index)[write_index]["mappings"]
        want = body["template"]["mappings"]["properties"]
        conflicts = mapping_conflicts(write_index, want, have_map.get("properties", {}))
        missing = missing_fields(want, have_map.get("properties", {}))
        have_settings = self.client.indices.get_settings(index=write_index)[write_index]["settings"].get("index", {})
        have_flat = _flat(have_settings)
        static = [key for key, value in _flat(templates.STREAM_STATIC_SETTINGS).items()
                  if not _subset(value, have_flat.get(key))]
        if (missing or static) and not conflicts:
            # Fields added since the write index was made (e.g. the wildcard sub-fields detection
            # searches, whose normalizer an open index cannot gain), or settings only a new index
            # takes: start a backing index from the current template, so that every document
            # indexed from now on has them.
            why = [f"new fields: {', '.join(missing)}"] if missing else []
            why += [f"settings a new index takes: {', '.join(static)}"] if static else []
            self.client.indices.rollover(alias=name)
            self.report.add(f"data stream {name}", f"rolled over ({'; '.join(why)})")
        elif not conflicts and self._stream_settings(write_index, have_settings):
            self.report.add(f"data stream {name}", "settings updated")
        else:  # a stream whose mappings conflict is left as it is, settings included
            self.report.add(f"data stream {name}", "unchanged")
        return conflicts

    def _stream_settings(self, write_index: str, have: dict[str, Any]) -> bool:
        """Give an existing write index (its index settings: ``have``) the dynamic settings of the
        template (those it was made with may be older); True when it had other values."""
        want = templates.STREAM_DYNAMIC_SETTINGS
        if _subset(want, have):
            return False
        self.client.indices.put_settings(index=write_index, body={"index": want})
        return True

    def _system_index(self, logical: str, replicas: int) -> list[str]:
        name = self.names(logical)
        body = templates.system_index_body(logical, replicas)
        if not self.client.indices.exists(index=name):
            self.client.indices.create(index=name, body=body)
            self.report.add(f"index {name}", "created")
            return []
        have = self.client.indices.get_mapping(index=name)[name]["mappings"].get("properties", {})
        conflicts = mapping_conflicts(name, body["mappings"]["properties"], have)
        missing = {k: v for k, v in body["mappings"]["properties"].items() if k not in have}
        if missing and not conflicts:
            self.client.indices.put_mapping(index=name, body={"properties": missing})
            self.report.add(f"index {name}", f"updated (added {', '.join(sorted(missing))})")
        else:
            self.report.add(f"index {name}", "unchanged")
        return conflicts

    def _has_ism(self) -> bool:
        plugins = self.client.cat.plugins(format="json")
        return any(p.get("component") == "opensearch-index-management" for p in plugins)

    def _ism(self) -> None:
        if not self._has_ism():
            self.report.notes.append(
                "ISM plugin not installed on this cluster: rollover and retention are applied by the "
                "service's own retention job instead (soc.opensearch.retention)")
            return
        for stream in LOG_STREAMS:
            policy_id = self.names(f"{stream}-policy")
            body = templates.ism_policy(self.settings, self.names, stream)
            try:
                resp = self.client.transport.perform_request("GET", f"/_plugins/_ism/policies/{policy_id}")
                have = resp.get("policy", {})
            except NotFoundError:
                have = None
            if have is not None and _subset(body["policy"]["states"], have.get("states")):
                self.report.add(f"ISM policy {policy_id}", "unchanged")
                continue
            params = {}
            if have is not None:
                params = {"if_seq_no": resp["_seq_no"], "if_primary_term": resp["_primary_term"]}
            self.client.transport.perform_request("PUT", f"/_plugins/_ism/policies/{policy_id}",
                                                  params=params, body=body)
            self.report.add(f"ISM policy {policy_id}", "created" if have is None else "updated")


def init(settings: Settings, client: OpenSearch, names: Names, lateness_s: float | None = None) -> Report:
    """Create or check everything; ``lateness_s`` overrides the detection setting (history replays)."""
    return Bootstrap(settings, client, names, lateness_s).run()


def remove_prefix(client: OpenSearch, prefix: str) -> None:
    """Delete every data stream, index, template and pipeline under ``prefix`` (tests, benchmarks,
    scratch runs). An empty prefix is refused: it would name the deployment itself."""
    if not prefix:
        raise ValueError("refusing to delete everything: no index prefix given")
    client.indices.delete_data_stream(name=f"{prefix}*", ignore=[404])
    client.indices.delete(index=f"{prefix}*", ignore=[404])
    client.indices.delete_index_template(name=f"{prefix}*", ignore=[404])
    client.ingest.delete_pipeline(id=f"{prefix}*", ignore=[404])


@contextmanager
def scratch(settings: Settings, stem: str = "scratch-", lateness_s: float | None = None) -> Iterator[Settings]:
    """A deployment of its own under a fresh random prefix (``stem`` + 8 hex digits), initialised on
    entry and removed on exit, however the block ends (rule tests, evaluations, benchmarks).
    ``lateness_s``: see ``init`` (an evaluation over old captures sets it past their age)."""
    scoped = replace(settings, index_prefix=f"{stem}{uuid.uuid4().hex[:8]}-")
    client = search.client(scoped)
    try:
        init(scoped, client, search.names(scoped), lateness_s)
        yield scoped
    finally:
        remove_prefix(client, scoped.index_prefix)
