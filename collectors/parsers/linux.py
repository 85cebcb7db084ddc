"""Linux program messages: route a syslog record to the enricher of the program that wrote it.

The program name comes from the syslog header (``sshd``, ``CRON``, ``sshd(pam_unix)``,
``/usr/sbin/cron``). Enrichers add ``event.action``, ``event.outcome``, ``event.category``,
``event.type``, ``user.*``, ``source.*`` and ``process.*`` details; a message they do not know is
left as it is (a known program's unknown message is not a parse failure).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from collectors.parsers import accounts, pam, privilege, sshd, system

Enricher = Callable[[dict[str, Any], str], bool]

ENRICHERS: dict[str, Enricher] = {
    "sshd": sshd.enrich,
    "sshd-session": sshd.enrich,
    "sshd-auth": sshd.enrich,
    "sudo": privilege.sudo,
    "su": privilege.su,
    "cron": system.cron,
    "crond": system.cron,
    "systemd-logind": system.logind,
    "kernel": system.kernel,
    "useradd": accounts.enrich,
    "usermod": accounts.enrich,
    "userdel": accounts.enrich,
    "groupadd": accounts.enrich,
    "groupdel": accounts.enrich,
    "groupmod": accounts.enrich,
    "gpasswd": accounts.enrich,
    "passwd": accounts.enrich,
    "chpasswd": accounts.enrich,
    "chage": accounts.enrich,
}


def _pam_only(event: dict[str, Any], message: str) -> bool:
    return pam.enrich(event, message)


def _legacy_pam(event: dict[str, Any], message: str) -> bool:
    return pam.body(event, message)


@lru_cache(maxsize=1024)
def enricher(program: str) -> tuple[Enricher, str]:
    """The enricher for a program name as written in a header, and the program's plain name."""
    found = ENRICHERS.get(program)
    if found is not None:
        return found, program
    name = program.rsplit("/", 1)[-1]
    legacy = name.endswith(")") and "(pam_" in name  # sshd(pam_unix)
    if "(" in name:
        name = name.split("(", 1)[0]
    found = ENRICHERS.get(name) or ENRICHERS.get(name.lower())
    if legacy:
        return _legacy_pam, name
    return (found or _pam_only), name


def enrich(event: dict[str, Any], program: str | None, message: str) -> None:
    if program is None:
        return
    handler, name = enricher(program)
    if name != program:
        event["process"]["name"] = name
    handler(event, message)
