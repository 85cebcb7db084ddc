"""``soc agencies add|list|collector-credentials``."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from opensearchpy import AuthorizationException

from soc import search
from soc.agencies import identities, service
from soc.auth import Principal
from soc.config import Settings
from soc.errors import Forbidden


def operator() -> Principal:
    """Whoever runs the soc command on the SOC host acts as an admin of every agency."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return Principal(f"cli:{user}", "admin", ("*",))


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    doc = service.new_document(args.id, args.name_vi, args.name_en, args.timezone, args.contact,
                               args.collector_address)
    client, names = search.client(settings), search.names(settings)
    service.add(client, names, operator(), doc)
    print(f"added agency {doc['id']} ({doc['name_en']} / {doc['name_vi']}, {doc['timezone']})")
    try:
        ident = identities.ensure(client, names, doc["id"])
    except AuthorizationException:
        raise Forbidden(f"agency {doc['id']} was added, but the OpenSearch user {settings.opensearch_user!r} may "
                        "not manage the security plugin, so its collector identity was not created: run "
                        f"'soc agencies collector-credentials {doc['id']}' with the admin user "
                        "(soc opensearch env --admin)") from None
    if ident is not None:
        print(f"collector identity: user {ident.user}, role {ident.role} (no password yet: "
              f"soc agencies collector-credentials {doc['id']})")
    return 0


def cmd_credentials(args: argparse.Namespace, settings: Settings) -> int:
    ident, password = identities.issue(search.client(settings), search.names(settings), operator(), args.id)
    print(f"new password for {ident.user} (role {ident.role}); the previous one no longer works.")
    print("It is shown once: put it in the collector's file (soc sources collector-config --credentials).")
    print(f"{ident.user} {password}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = service.listing(search.client(settings), search.names(settings), operator())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for doc in rows:
        contacts = ", ".join(doc.get("contacts") or []) or "-"
        print(f"{doc['id']}\t{doc['name_en']}\t{doc['name_vi']}\t{doc['timezone']}\t{contacts}")
    if not rows:
        print("no agencies yet: add one with 'soc agencies add'")
    return 0


def register(sub: Any) -> None:
    ap = sub.add_parser("agencies", help="agencies that send logs to the SOC").add_subparsers(
        dest="action", required=True)
    add = ap.add_parser("add", help="add an agency")
    add.add_argument("id", help="agency id: lower-case letters, digits and '-' (e.g. so-tttt)")
    add.add_argument("--name-vi", required=True, help="name in Vietnamese")
    add.add_argument("--name-en", required=True, help="name in English")
    add.add_argument("--timezone", default="Asia/Ho_Chi_Minh")
    add.add_argument("--contact", action="append", default=[], help="notification contact (repeat)")
    add.add_argument("--collector-address", help="host name agency servers send their logs to")
    add.set_defaults(func=cmd_add)
    ls = ap.add_parser("list", help="list agencies")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    cred = ap.add_parser("collector-credentials",
                         help="issue or rotate the password of an agency's collector user (security plugin)")
    cred.add_argument("id", help="agency id")
    cred.set_defaults(func=cmd_credentials)
