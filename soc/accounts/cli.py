"""``soc users add|passwd|list`` and ``soc tokens create|list|revoke``."""

from __future__ import annotations

import argparse
import getpass
import sys

from soc import search
from soc.accounts import store as accounts_store
from soc.auth import ROLES
from soc.config import Settings
from soc.errors import Invalid


def _password(args: argparse.Namespace, required: bool) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        if required:
            raise Invalid("no terminal to ask for a password: use --password-stdin")
        return None
    first = getpass.getpass("password: ")
    if not first and not required:
        return None
    if getpass.getpass("again: ") != first:
        raise Invalid("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    user = accounts_store.create_user(search.client(settings), search.names(settings), args.name, args.role,
                                   args.agency or ["*"], _password(args, required=False))
    print(f"created user {user['name']} ({user['role']}, agencies {', '.join(user['agencies'])})")
    return 0


def cmd_users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    password = _password(args, required=True)
    accounts_store.update_user(search.client(settings), search.names(settings), args.name, {"password": password})
    print(f"password of {args.name} changed")
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    for _, doc in accounts_store.list_kind(search.client(settings), search.names(settings), "user"):
        u = accounts_store.public_user(doc)
        state = " (disabled)" if u["disabled"] else ""
        print(f"{u['name']}\t{u['role']}\t{','.join(u['agencies'])}{state}")
    return 0


def cmd_tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    client, names = search.client(settings), search.names(settings)
    if args.role:
        token = accounts_store.create_token(client, names, args.name, args.role, args.agency or ["*"])
    else:
        token = accounts_store.create_user_token(client, names, args.name)
    print("the token is shown once; only its hash is stored:")
    print(token)
    return 0


def cmd_tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    for token_id, doc in accounts_store.list_kind(search.client(settings), search.names(settings), "token"):
        t = accounts_store.public_token(token_id, doc)
        state = " (revoked)" if t["disabled"] else ""
        print(f"{t['id']}\t{t['name']}\t{t['role']}\t{','.join(t['agencies'])}{state}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    accounts_store.revoke_token(search.client(settings), search.names(settings), args.id)
    print(f"revoked {args.id}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    users = sub.add_parser("users", help="people who use the API and console").add_subparsers(
        dest="action", required=True)
    add = users.add_parser("add", help="create a user (asks for a password on a terminal)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--agency", action="append", help="an agency the user works for (repeat; default '*')")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_users_add)
    passwd = users.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_users_passwd)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="action", required=True)
    create = tokens.add_parser("create", help="a token acting as user NAME (or a program token with --role); "
                                              "prints it once, alone on the last line")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, help="a program token of its own role instead of a user's")
    create.add_argument("--agency", action="append", help="agencies of a program token (repeat; default '*')")
    create.set_defaults(func=cmd_tokens_create)
    tokens.add_parser("list", help="list tokens (never the secrets)").set_defaults(func=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", help="disable a token by its id")
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_tokens_revoke)
