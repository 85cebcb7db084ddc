"""OpenSSH server messages: logins, invalid users, disconnects, pre-auth noise.

User names are attacker-chosen and may hold spaces or text that looks like the rest of the line
("... for invalid user x from 6.6.6.6 port 1 ..."): every pattern takes the user greedily and
anchors the address to the end, where sshd writes the real one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.parsers import pam
from collectors.parsers.event import classify, peer, user

_AUTH = ("authentication",)
_SESSION = ("session",)
_NETWORK = ("network",)
_PROCESS = ("process",)

_TAIL = r" (\S+) port (\d+)(?: on \S+ port \d+)?(?: ssh2)?(?:: .*?)?(?: \[preauth\])?$"
_ACCEPTED = re.compile(r"Accepted (\S+) for (.*) from" + _TAIL)
_FAILED = re.compile(r"Failed (\S+) for (invalid user )?(.*) from" + _TAIL)
_INVALID = re.compile(r"Invalid user (.*) from (\S+)(?: port (\d+))?$")
_INVALID_REQUEST = re.compile(r"input_userauth_request: invalid user (.*?)(?: \[preauth\])?$")
_CLOSED = re.compile(
    r"Connection closed by (?:(?:authenticating|invalid) user (.*) )?(\S+) port (\d+)(?: \[preauth\])?$"
)
_CLOSED_OLD = re.compile(r"Connection closed by (\S+)(?: \[preauth\])?$")
_DISCONNECTED = re.compile(
    r"Disconnected from (?:(?:authenticating |invalid )?user (.*) )?(\S+) port (\d+)(?: \[preauth\])?$"
)
_RECEIVED_DISCONNECT = re.compile(r"(?:error: )?Received disconnect from (\S+?)(?: port (\d+))?: ?\d+:")
_DISCONNECTING = re.compile(r"Disconnecting (?:(?:authenticating|invalid) user (.*) )?(\S+) port (\d+): ")
_MAX_ATTEMPTS = re.compile(r"error: maximum authentication attempts exceeded for (invalid user )?(.*) from" + _TAIL)
_NOT_ALLOWED = re.compile(r"User (.*) from (\S+) not allowed because ")
_LISTENING = re.compile(r"Server listening on (\S+) port (\d+)")
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for \S+ \[([^\]]+)\] failed")
_NO_IDENT = re.compile(r"Did not receive identification string from (\S+)(?: port (\d+))?")
_BAD_PROTOCOL = re.compile(
    r"(?:Bad protocol version identification .* from|banner exchange: Connection from) (\S+)(?: port (\d+))?"
)
_TIMEOUT = re.compile(
    r"(?:fatal: )?Timeout before authentication for (?:connection from )?(\S+)(?: to \S+,)? port (\d+)"
)
_NEGOTIATE = re.compile(r"Unable to negotiate with (\S+) port (\d+): ")
_CONNECTION = re.compile(r"Connection from (\S+) port (\d+) on ")


def _accepted(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_login", _AUTH, ("start",), "success")
    user(event, m.group(2))
    peer(event, m.group(3), m.group(4))


def _failed(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_login", _AUTH, ("info",), "failure")
    if m.group(2):
        event["event"]["reason"] = "invalid user"
    user(event, m.group(3) or None)
    peer(event, m.group(4), m.group(5))


def _invalid(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_invalid_user", _AUTH, ("info",), "failure")
    user(event, m.group(1) or None)
    peer(event, m.group(2), m.group(3))


def _invalid_request(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_invalid_user", _AUTH, ("info",), "failure")
    user(event, m.group(1) or None)


def _closed(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_connection_closed", _NETWORK, ("end",))
    user(event, m.group(1) or None)
    peer(event, m.group(2), m.group(3))


def _disconnected(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_disconnect", _SESSION, ("end",))
    user(event, m.group(1) or None)
    peer(event, m.group(2), m.group(3))


def _received_disconnect(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_disconnect", _SESSION, ("end",))
    peer(event, m.group(1), m.group(2))


def _disconnecting(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_disconnect", _SESSION, ("end",), "failure")
    user(event, m.group(1) or None)
    peer(event, m.group(2), m.group(3))


def _max_attempts(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_max_auth_attempts", _AUTH, ("info",), "failure")
    user(event, m.group(2) or None)
    peer(event, m.group(3), m.group(4))


def _not_allowed(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_login_denied", _AUTH, ("info",), "failure")
    user(event, m.group(1) or None)
    peer(event, m.group(2))


def _listening(event: dict[str, Any], m: re.Match[str]) -> None:
    classify(event, "ssh_server_start", _PROCESS, ("start",), "success")


def _address_only(action: str, category: tuple[str, ...], outcome: str | None) -> Callable[..., None]:
    def handle(event: dict[str, Any], m: re.Match[str]) -> None:
        classify(event, action, category, ("info",), outcome)
        peer(event, m.group(1), m.group(2) if m.re.groups > 1 else None)

    return handle


# message prefix -> (pattern, handler); the prefix test keeps the common path to one regex
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[dict[str, Any], re.Match[str]], None]], ...] = (
    ("Failed ", _FAILED, _failed),
    ("Accepted ", _ACCEPTED, _accepted),
    ("Invalid user ", _INVALID, _invalid),
    ("Connection closed by ", _CLOSED, _closed),
    ("Connection closed by ", _CLOSED_OLD, _address_only("ssh_connection_closed", _NETWORK, None)),
    ("Disconnected from ", _DISCONNECTED, _disconnected),
    ("Received disconnect from ", _RECEIVED_DISCONNECT, _received_disconnect),
    ("error: Received disconnect from ", _RECEIVED_DISCONNECT, _received_disconnect),
    ("Disconnecting ", _DISCONNECTING, _disconnecting),
    ("error: maximum authentication", _MAX_ATTEMPTS, _max_attempts),
    ("input_userauth_request: ", _INVALID_REQUEST, _invalid_request),
    ("User ", _NOT_ALLOWED, _not_allowed),
    ("Server listening on ", _LISTENING, _listening),
    ("reverse mapping ", _REVERSE, _address_only("ssh_reverse_mapping_failed", _NETWORK, None)),
    ("Did not receive ", _NO_IDENT, _address_only("ssh_no_identification", _NETWORK, "failure")),
    ("Bad protocol ", _BAD_PROTOCOL, _address_only("ssh_bad_protocol", _NETWORK, "failure")),
    ("banner exchange: ", _BAD_PROTOCOL, _address_only("ssh_bad_protocol", _NETWORK, "failure")),
    ("Timeout before ", _TIMEOUT, _address_only("ssh_timeout", _NETWORK, "failure")),
    ("fatal: Timeout before ", _TIMEOUT, _address_only("ssh_timeout", _NETWORK, "failure")),
    ("Unable to negotiate ", _NEGOTIATE, _address_only("ssh_negotiation_failed", _NETWORK, "failure")),
    ("Connection from ", _CONNECTION, _address_only("ssh_connection", _NETWORK, None)),
)


def enrich(event: dict[str, Any], message: str) -> bool:
    for prefix, pattern, handle in _RULES:
        if message.startswith(prefix):
            found = pattern.match(message)
            if found is not None:
                handle(event, found)
                return True
    if message.startswith("Received signal "):
        classify(event, "ssh_server_stop", _PROCESS, ("end",))
        return True
    return pam.enrich(event, message)
