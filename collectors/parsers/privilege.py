"""sudo and su: who became whom, running what, and the failures on the way.

sudo writes ``alice : [reason ; ]TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id``.
COMMAND comes last and may itself hold `` ; `` (it is the user's own text), so it is cut off first.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.event import classify, user

_SUDO = re.compile(r"\s*([^\s:]+) : (.*)$", re.DOTALL)
_SU_TO = re.compile(r"(FAILED SU )?\(to ([^)\s]+)\) (\S+) on (\S+)$")
_SU_FOR = re.compile(r"(Successful|FAILED) su for (\S+) by (\S+)$")
_SU_SHORT = re.compile(r"([+-]) (\S+) ([^\s:]+):(\S+)$")

# sudo's reasons for refusing (the part before TTY=), -> event.action
_SUDO_REASONS = (
    ("incorrect password attempt", "sudo_incorrect_password"),
    ("user NOT in sudoers", "sudo_not_allowed"),
    ("user NOT authorized on host", "sudo_not_allowed"),
    ("command not allowed", "sudo_not_allowed"),
    ("a password is required", "sudo_password_required"),
)


def sudo(event: dict[str, Any], message: str) -> bool:
    found = _SUDO.match(message)
    if found is None:
        return pam.enrich(event, message)
    name, rest = found.groups()
    command = None
    cut = rest.find("COMMAND=")
    if cut >= 0 and (cut == 0 or rest.startswith(" ; ", cut - 3)):
        command = rest[cut + 8 :]
        rest = rest[: max(cut - 3, 0)]
    values: dict[str, str] = {}
    reasons: list[str] = []
    for part in rest.split(" ; "):
        key, sep, value = part.partition("=")
        if sep and key.isupper():
            values[key] = value
        elif part:
            reasons.append(part)
    if not values and command is None:
        return pam.enrich(event, message)
    reason = " ; ".join(reasons)
    if reason:
        action = "sudo_failure"
        for needle, named in _SUDO_REASONS:
            if needle in reason:
                action = named
                break
        category = ("authentication",) if action == "sudo_incorrect_password" else ("process",)
        classify(event, action, category, ("info",), "failure")
        event["event"]["reason"] = reason
    else:
        classify(event, "sudo_command", ("process",), ("start",), "success")
    user(event, name, values.get("USER") or None)
    process = event.setdefault("process", {})
    if command is not None:
        process["command_line"] = command
        process["executable"] = command.split(" ", 1)[0]
    if values.get("PWD"):
        process["working_directory"] = values["PWD"]
    return True


def su(event: dict[str, Any], message: str) -> bool:
    to = _SU_TO.match(message)
    if to is not None:
        failed, target, name, _tty = to.groups()
        _su(event, name, target, failed is None)
        return True
    by = _SU_FOR.match(message)
    if by is not None:
        word, target, name = by.groups()
        _su(event, name, target, word == "Successful")
        return True
    short = _SU_SHORT.match(message)
    if short is not None:
        sign, _tty, name, target = short.groups()
        _su(event, name, target, sign == "+")
        return True
    return pam.enrich(event, message)


def _su(event: dict[str, Any], name: str, target: str, success: bool) -> None:
    if success:
        classify(event, "su_session", ("session",), ("start",), "success")
    else:
        classify(event, "su_session", ("authentication",), ("info",), "failure")
    user(event, name, target)
