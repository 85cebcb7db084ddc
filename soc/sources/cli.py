"""``soc sources add|list|show|remove|config|collector-config|test|health|coverage``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from soc import search
from soc.agencies.cli import operator
from soc.config import Settings
from soc.detection import catalogue
from soc.detection import settings as detect_settings
from soc.errors import Invalid
from soc.opensearch import secured
from soc.sources import clientcert, configs, coverage, jobs, probe, service

CA_NAME = "opensearch-ca.pem"


def _paths(args: argparse.Namespace) -> configs.Paths:
    base = configs.Paths()
    return configs.Paths(collector_tls_dir=args.tls_dir or base.collector_tls_dir,
                         host_ca_file=args.ca_path or base.host_ca_file,
                         queue_dir=args.queue_dir or base.queue_dir)


def _ca_dir(args: argparse.Namespace, settings: Settings) -> Path | None:
    """The SOC CA that signs hosts' client certificates, when the new source needs one."""
    if args.type != "syslog" or args.protocol != "tls" or args.no_client_cert:
        return None
    folder = Path(args.ca_dir) if args.ca_dir else secured.private(settings.node_home) / "pki"
    clientcert.ca_files(folder)  # refused before anything is stored
    return folder


def _emit(files: dict[str, str], out: str | None) -> None:
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            print(f"wrote {folder / name}")
        return
    for name, text in files.items():
        print(f"===== {name} =====\n{text}")


def _describe(doc: dict[str, Any]) -> str:
    col = doc["collector"]
    where = f"{col['protocol']} {col['address']}:{col['port']}" if col.get("port") else f"file {doc['log_path']}"
    return (f"{doc['id']}\t{doc['organization']['id']}\t{doc['type']}\t{doc['name']}\t{doc.get('host') or '-'}\t"
            f"{col['id']}\t{where}")


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    client, names = search.client(settings), search.names(settings)
    ca_dir = _ca_dir(args, settings)
    if ca_dir is not None and not args.host:
        raise Invalid("--host: a TLS source names its host, whose client certificate is issued now")
    doc = service.new_source(client, names, operator(), args.agency, args.type, args.name, args.host,
                             args.expected_rate, args.silence_after, args.collector_address, args.port,
                             args.protocol, args.log_path)
    print(f"onboarded log source {doc['id']} (log.source.id) on collector {doc['collector']['id']}")
    _emit(service.configuration(client, names, operator(), doc["id"], _paths(args)), args.out)
    if ca_dir is not None:
        cert, key = clientcert.issue(ca_dir, args.host, args.agency, Path(args.out or "."))
        print(f"wrote {cert} and {key}: the client certificate of {args.host}, signed by the SOC CA; install "
              f"them on {args.host} as {_paths(args).host_cert_file} and {_paths(args).host_key_file}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = service.listing(search.client(settings), search.names(settings), operator(), args.agency)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    for doc in [] if args.json else rows:
        print(_describe(doc))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    doc = service.get(search.client(settings), search.names(settings), operator(), args.id)
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    service.remove(search.client(settings), search.names(settings), operator(), args.id)
    print(f"removed log source {args.id} (events already stored stay until retention deletes them)")
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    _emit(service.configuration(search.client(settings), search.names(settings), operator(), args.id,
                                _paths(args)), args.out)
    return 0


def _credentials(path: str) -> tuple[str, str]:
    """``USER PASSWORD`` from the last non-empty line of a file (what collector-credentials prints)."""
    try:
        lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    except OSError as exc:
        raise Invalid(f"--credentials: cannot read {path}: {exc.strerror}") from None
    if not lines:
        raise Invalid(f"--credentials: {path} is empty: expected 'USER PASSWORD' on its last line")
    parts = lines[-1].split()
    if len(parts) != 2:
        raise Invalid(f"--credentials: {path}:{len(lines)}: expected 'USER PASSWORD' on the last line")
    return parts[0], parts[1]


def cmd_collector_config(args: argparse.Namespace, settings: Settings) -> int:
    url = args.opensearch_url or settings.url
    user, password = _credentials(args.credentials) if args.credentials else (None, None)
    text = service.collector_config(search.client(settings), search.names(settings), operator(), args.collector,
                                    url, settings.index_prefix, _paths(args))
    files = {f"{args.collector}.yml": text}
    ca_source = args.opensearch_ca or (settings.opensearch_ca_file if url.startswith("https") else None)
    ca_target = None
    if ca_source:
        try:
            files[CA_NAME] = Path(ca_source).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(f"--opensearch-ca: cannot read a PEM certificate from {ca_source}: {exc}") from None
        ca_target = f"{_paths(args).collector_tls_dir}/{CA_NAME}"
    if user or ca_target:
        files[f"{args.collector}.yml"] = configs.with_credentials(text, user, password, ca_target)
    _emit(files, args.out)
    if args.out and user:
        (Path(args.out) / f"{args.collector}.yml").chmod(0o600)  # it holds the collector's password
    return 0


def cmd_test(args: argparse.Namespace, settings: Settings) -> int:
    client, names = search.client(settings), search.names(settings)
    doc = service.get(client, names, operator(), args.id)
    if bool(args.client_cert) != bool(args.client_key):
        raise Invalid("--client-cert and --client-key go together")
    pair = (args.client_cert, args.client_key) if args.client_cert else None
    result = probe.run(client, names, doc, ca_file=args.ca_file, url=args.url, timeout=args.timeout,
                       client_cert=pair)
    if result.ok:
        extra = f"; OpenSearch stamped it {result.ingest_delay_s:.2f}s after sending" \
            if result.ingest_delay_s is not None else ""
        print(f"ok: {result.message}{extra} (marker {result.marker})")
        return 0
    print(f"failed: {result.message} (marker {result.marker})")
    return 1


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    healths, outcome = jobs.run_health(settings)
    if args.json:
        print(json.dumps([h.as_dict() for h in healths], indent=2))
    for h in [] if args.json else healths:
        failures = "-" if h.parse_failure_rate is None else f"{h.parse_failure_rate:.1%}"
        beat = "-" if h.heartbeat_age_s is None else f"{h.heartbeat_age_s:.0f}s"
        print(f"{h.state:>8}  {h.source_id}  last {h.last_event or 'never'}  {h.rate_hour}/min (1h) "
              f"{h.rate_day}/min (1d)  failures {failures}  heartbeat {beat}  {'; '.join(h.reasons)}")
    if outcome.alerts_created or outcome.resolved:
        print(f"silence: {outcome.alerts_created} new alert(s), {len(outcome.resolved)} incident(s) resolved")
    return 0


def cmd_coverage(args: argparse.Namespace, settings: Settings) -> int:
    ds = detect_settings.load()
    rules_now = catalogue.get(ds.rule_paths)
    report = coverage.check(search.client(settings), search.names(settings), args.agency, args.type,
                            list(rules_now.compiled), ds, args.days)
    if args.json:
        print(json.dumps(coverage.as_dict(report), indent=2))
        return 0
    print(f"{report.agency} / {report.type}: {len(report.sources)} source(s), {report.events} events in the last "
          f"{args.days:g} days")
    for title, rows in (("can fire", report.can_fire), ("cannot fire", report.cannot_fire),
                        ("unsupported", report.unsupported)):
        print(f"{title} ({len(rows)}):")
        for row in rows:
            print(f"  {row.rule_id}  {row.title}" + (f"  -- {row.reason}" if row.reason else ""))
    for p in rules_now.problems:
        print(f"  not loaded: {p.path}: {p.reason}")
    return 0


def _path_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="write the files into this folder instead of printing them")
    p.add_argument("--tls-dir", help="folder of collector.pem/collector.key on the collector (default /etc/soc/tls)")
    p.add_argument("--ca-path", help="where the SOC CA certificate is on the forwarding host "
                                     "(default /etc/ssl/soc/ca.pem)")
    p.add_argument("--queue-dir", help="the collector's queue folder (default /var/lib/soc-collector)")


def register(sub: Any) -> None:
    sp = sub.add_parser("sources", help="log sources: onboard, configure, test, health, coverage").add_subparsers(
        dest="action", required=True)
    add = sp.add_parser("add", help="onboard a log source; prints its id and ready-to-use configuration")
    add.add_argument("--agency", required=True)
    add.add_argument("--type", required=True, choices=service.TYPES)
    add.add_argument("--name", required=True)
    add.add_argument("--host", help="the server (required for web servers: their collector runs there)")
    add.add_argument("--expected-rate", type=float, help="expected events per minute")
    add.add_argument("--silence-after", type=int, default=service.DEFAULT_SILENCE_MINUTES,
                     help="minutes without events before the source is silent (default 60)")
    add.add_argument("--collector-address", help="host name the server sends to (default: the agency's)")
    add.add_argument("--port", type=int, help="listener port on the collector (default: the next free from 6514)")
    add.add_argument("--protocol", choices=service.PROTOCOLS, default="tls")
    add.add_argument("--log-path", help="access log of a web server (default: Debian's)")
    add.add_argument("--ca-dir", help="the SOC CA (ca.pem, ca-key.pem) that signs the host's client certificate "
                                      "(default: the project CA of 'soc opensearch start --security')")
    add.add_argument("--no-client-cert", action="store_true",
                     help="issue no client certificate (the collector entry still requires one)")
    _path_options(add)
    add.set_defaults(func=cmd_add)
    ls = sp.add_parser("list", help="list sources")
    ls.add_argument("--agency")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    for name, func, text in (("show", cmd_show, "show a source"), ("remove", cmd_remove, "remove a source")):
        p = sp.add_parser(name, help=text)
        p.add_argument("id")
        p.set_defaults(func=func)
    cfg = sp.add_parser("config", help="print (or write) a source's configuration files again")
    cfg.add_argument("id")
    _path_options(cfg)
    cfg.set_defaults(func=cmd_config)
    cc = sp.add_parser("collector-config", help="a whole collector file for every source on a collector")
    cc.add_argument("collector")
    cc.add_argument("--opensearch-url", help="how the collector reaches OpenSearch (default: this service's)")
    cc.add_argument("--credentials", help="file whose last line is 'USER PASSWORD' (from soc agencies "
                                          "collector-credentials): written into the collector file")
    cc.add_argument("--opensearch-ca", help="CA certificate of the cluster, shipped as " + CA_NAME + " in --tls-dir "
                                            "(default: SOC_OPENSEARCH_CA_FILE when the URL is https)")
    _path_options(cc)
    cc.set_defaults(func=cmd_collector_config)
    test = sp.add_parser("test", help="send a marker event along the real path; report latency or where it stopped")
    test.add_argument("id")
    test.add_argument("--ca-file", help="CA to verify the collector's TLS certificate (default: system CAs)")
    test.add_argument("--url", help="web sources: the site to request (default http://HOST)")
    test.add_argument("--client-cert", help="TLS sources: a client certificate signed by the SOC CA")
    test.add_argument("--client-key", help="its key")
    test.add_argument("--timeout", type=float, default=60.0)
    test.set_defaults(func=cmd_test)
    hp = sp.add_parser("health", help="health of every source; opens / resolves silence incidents")
    hp.add_argument("--json", action="store_true")
    hp.set_defaults(func=cmd_health)
    cv = sp.add_parser("coverage", help="enabled rules that can / cannot fire on an agency's data of one type")
    cv.add_argument("--agency", required=True)
    cv.add_argument("--type", required=True, choices=service.TYPES)
    cv.add_argument("--days", type=float, default=7.0, help="how far back events are looked at (default 7)")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(func=cmd_coverage)


__all__ = ["asdict", "register"]
