"""PAM module messages, whichever program logs them (sshd, sudo, su, cron, login, passwd...).

``pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.31  user=root``
(note the double space before ``user=``, and the trailing space when the user is unknown),
``pam_unix(cron:session): session opened for user alice(uid=1005) by (uid=0)`` and the like.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.event import classify, peer, user

_PREFIX = re.compile(r"pam_\w+\(([^:()\s]+):(\w+)\): ")
_SESSION = re.compile(r"session (opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))?(?: by ([^\s(]*)(?:\(uid=\d+\))?)?")
_PASSWORD_CHANGED = re.compile(r"password changed for (\S+)")
_MORE_FAILURES = re.compile(r"PAM \d+ more authentication failures?; ")
_AUTH = ("authentication",)
_SESSION_CATEGORY = ("session",)


def enrich(event: dict[str, Any], message: str) -> bool:
    """Enrich a ``pam_xxx(service:phase): ...`` or ``PAM n more authentication failures`` line."""
    prefix = _PREFIX.match(message)
    if prefix is not None:
        return body(event, message[prefix.end() :])
    more = _MORE_FAILURES.match(message)
    if more is not None:
        _failure(event, message[more.end() :])
        return True
    return False


def body(event: dict[str, Any], text: str) -> bool:
    """The text after the PAM module prefix (also what ``sshd(pam_unix)[pid]:`` lines carry)."""
    if text.startswith("authentication failure; "):
        _failure(event, text[24:])
        return True
    if text.startswith("session "):
        session = _SESSION.match(text)
        if session is None:
            return False
        state, name, actor = session.groups()
        opened = state == "opened"
        action = "session_opened" if opened else "session_closed"
        classify(event, action, _SESSION_CATEGORY, ("start",) if opened else ("end",), "success")
        if actor and actor != name:
            user(event, actor, name)
        else:
            user(event, name)
        return True
    changed = _PASSWORD_CHANGED.match(text)
    if changed is not None:
        classify(event, "password_changed", ("iam",), ("user", "change"), "success")
        user(event, None, changed.group(1))
        return True
    if text.startswith("check pass; user unknown"):
        classify(event, "authentication_failure", _AUTH, ("info",), "failure")
        return True
    return False


def _failure(event: dict[str, Any], pairs: str) -> None:
    """``logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root``: values never hold spaces."""
    values: dict[str, str] = {}
    for item in pairs.split():
        key, sep, value = item.partition("=")
        if sep:
            values[key] = value
    classify(event, "authentication_failure", _AUTH, ("info",), "failure")
    user(event, values.get("user") or None)
    rhost = values.get("rhost")
    if rhost:
        peer(event, rhost)
