"""``soc dashboards build`` (write the saved objects file) and ``soc dashboards import --url URL``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from soc.config import Settings
from soc.dashboards import importer, objects


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    out.write_text(objects.to_ndjson(objects.build(args.prefix or settings.index_prefix)), encoding="utf-8")
    print(f"wrote {len(objects.build())} saved objects to {out}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    auth = None
    if args.user:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
        auth = (args.user, password)
    verify: bool | str = args.ca_file or not args.insecure
    answer = importer.import_file(args.url, Path(args.file), auth=auth, verify=verify)
    print(f"imported {answer.get('successCount', 0)} saved objects into {args.url}")
    return 0


def register(sub: Any) -> None:
    dash = sub.add_parser("dashboards", help="OpenSearch Dashboards saved objects").add_subparsers(
        dest="action", required=True)
    build = dash.add_parser("build", help="write the saved objects (ndjson) from their declarations")
    build.add_argument("--out", default=str(importer.DEFAULT_FILE))
    build.add_argument("--prefix", help="index prefix of the deployment (default: the configured one)")
    build.set_defaults(func=cmd_build)
    imp = dash.add_parser("import", help="load the saved objects through the Dashboards import API")
    imp.add_argument("--url", required=True, help="OpenSearch Dashboards base URL")
    imp.add_argument("--file", default=str(importer.DEFAULT_FILE))
    imp.add_argument("--user")
    imp.add_argument("--password-stdin", action="store_true")
    imp.add_argument("--ca-file")
    imp.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate (labs only)")
    imp.set_defaults(func=cmd_import)
