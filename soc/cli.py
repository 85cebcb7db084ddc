"""The ``soc`` command."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from soc.config import Settings, load_settings
from soc.errors import SocError

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    if getattr(args, "port", None):
        settings = replace(settings, node_port=args.port)
    if getattr(args, "home", None):
        settings = replace(settings, node_home=Path(args.home).resolve())
    if getattr(args, "heap", None):
        settings = replace(settings, node_heap=args.heap)
    return settings


def cmd_os_start(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import dist, node

    if settings.external:
        print(f"an existing cluster is configured ({settings.url}); nothing to start")
        return 0
    if args.security:
        return _start_secured(args, settings)
    from soc.intel import settings as intel_settings

    home = dist.install(settings.opensearch_version, settings.cache_dir)
    specs = node.start(home, settings.node_home, settings.node_port, settings.node_heap, args.nodes,
                       settings.node_start_timeout, geoip_databases=intel_settings.load().geoip_databases)
    for spec in specs:
        print(f"{spec.name} running at {spec.url} (pid {node.read_pid(spec)}, folder {spec.folder})")
    return 0


def _start_secured(args: argparse.Namespace, settings: Settings) -> int:
    from soc.errors import NodeError
    from soc.intel import settings as intel_settings
    from soc.opensearch import node, secured

    if args.nodes != 1:
        raise NodeError("--security runs one node; leave out --nodes")
    home = secured.install(secured.VERSION, settings.cache_dir)
    spec = node.start(home, settings.node_home, settings.node_port, settings.node_heap, 1,
                      settings.node_start_timeout, secured.preparer(home, settings.node_home),
                      geoip_databases=intel_settings.load().geoip_databases)[0]
    secured.provision(settings.node_home, spec.url)
    print(f"{spec.name} running at {spec.url} with the security plugin (pid {node.read_pid(spec)}, "
          f"folder {spec.folder}); its settings: soc opensearch env --home {shlex.quote(str(spec.folder))}")
    return 0


def cmd_os_env(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import secured

    for name, value in secured.env(settings.node_home, args.admin).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_os_status(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import node, secured

    pki = secured.private(settings.node_home) / "pki"
    rows = node.status(settings.node_home, secured.admin_context(settings.node_home) if pki.is_dir() else None)
    if not rows:
        print(f"no local node under {settings.node_home}")
        return 3
    for row in rows:
        state = f"running, pid {row['pid']}, OpenSearch {row.get('version')}, health {row.get('health')}" \
            if row["running"] else "stopped"
        print(f"{row['node']} {row['url']}: {state}")
    return 0 if all(r["running"] for r in rows) else 3


def cmd_os_stop(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import node

    stopped = node.stop(settings.node_home)
    print("stopped " + ", ".join(stopped) if stopped else "no local node was running")
    return 0


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from soc import search
    from soc.accounts import store as accounts_store
    from soc.opensearch import bootstrap

    client = search.client(settings)
    names = search.names(settings)
    report = bootstrap.init(settings, client, names)
    for what, outcome in report.steps:
        print(f"{outcome:>10}  {what}")
    for note in report.notes:
        print(f"      note  {note}")
    token_created = False
    if not accounts_store.admin_token_exists(client, names):
        token = accounts_store.create_token(client, names, "initial-admin", "admin", ["*"])
        token_created = True
        print(f"   created  admin API token (shown once, store it now): {token}")
    if not report.changed and not token_created:
        print("nothing changed: everything was already in place")
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from soc import search
    from soc.opensearch import retention

    result = retention.apply(settings, search.client(settings), search.names(settings))
    print(json.dumps(result.__dict__, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soc", description="SOC log analytics service")
    parser.add_argument("-c", "--config", help="settings file (YAML); SOC_* environment variables override it")
    sub = parser.add_subparsers(dest="command", required=True)

    osp = sub.add_parser("opensearch", help="the local OpenSearch node").add_subparsers(dest="action", required=True)
    start = osp.add_parser("start", help="fetch (once) and start the local node, wait until it is healthy")
    start.add_argument("--port", type=int, help="HTTP port (default 9200)")
    start.add_argument("--home", help="folder for the node's config, data and logs (default ./var)")
    start.add_argument("--heap", help="JVM heap, e.g. 1g (default)")
    start.add_argument("--nodes", type=int, default=1, help="run this many nodes as one cluster (default 1)")
    start.add_argument("--security", action="store_true",
                       help="with the security plugin: TLS, users and roles (see 'soc opensearch env')")
    start.set_defaults(func=cmd_os_start)
    env = osp.add_parser("env", help="print shell exports that reach the secured node under --home")
    env.add_argument("--home", help="the node folder (default ./var)")
    env.add_argument("--admin", action="store_true", help="the admin user (manages collector identities)")
    env.set_defaults(func=cmd_os_env)
    for name, func, text in (("status", cmd_os_status, "is the local node running, and healthy?"),
                             ("stop", cmd_os_stop, "stop the local node(s) started from --home")):
        p = osp.add_parser(name, help=text)
        p.add_argument("--home", help="the node folder (default ./var)")
        p.set_defaults(func=func)

    sub.add_parser("init", help="create or check index templates, indices, pipeline, policies; first admin token"
                   ).set_defaults(func=cmd_init)
    sub.add_parser("retention", help="apply rollover and retention now (clusters without ISM)"
                   ).set_defaults(func=cmd_retention)
    from soc.detection.cli import register as register_detection

    register_detection(sub)
    from soc.accounts.cli import register as register_accounts
    from soc.api.cli import register as register_api

    register_api(sub)
    register_accounts(sub)
    from soc.agencies.cli import register as register_agencies
    from soc.sources.cli import register as register_sources

    register_agencies(sub)
    register_sources(sub)
    from soc.reports.cli import register as register_reports

    register_reports(sub)
    from soc.dashboards.cli import register as register_dashboards

    register_dashboards(sub)
    from soc.intel.cli import register as register_intel

    register_intel(sub)
    return parser


def _reason(exc: Exception) -> str:
    """The innermost reason OpenSearch gave for an error."""
    info = getattr(exc, "info", None)
    err = info.get("error") if isinstance(info, dict) else None
    reason = str(exc)
    while isinstance(err, dict):
        reason = f"{err.get('type')}: {err.get('reason')}"
        err = err.get("caused_by")
    return reason


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        settings = _settings(args)
        code: int = args.func(args, settings)
        return code
    except SocError as exc:
        print(f"soc: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from opensearchpy import ConnectionError as OSConnectionError
        from opensearchpy import TransportError

        if isinstance(exc, OSConnectionError):
            print(f"soc: error: OpenSearch is not reachable at {settings.url}: start it with "
                  "'soc opensearch start' or set SOC_OPENSEARCH_URL", file=sys.stderr)
            return 1
        if isinstance(exc, TransportError):
            print(f"soc: error: OpenSearch refused the request: {_reason(exc)}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
