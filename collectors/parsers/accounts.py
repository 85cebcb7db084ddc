"""Account management (shadow-utils): useradd, usermod, userdel, groupadd, groupdel, passwd, chage.

The account acted upon is ``user.target.name``; the group is ``group.name``. The actor is not in
these lines (it is in the sudo line that ran the command).
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.event import classify, long, user

_IAM = ("iam",)

_USER_NEW = ("user", "creation")
_USER_CHANGE = ("user", "change")
_USER_GONE = ("user", "deletion")
_GROUP_NEW = ("group", "creation")
_GROUP_CHANGE = ("group", "change")
_GROUP_GONE = ("group", "deletion")
_OK = "success"
_NAME = r"'(?P<user>[^']+)'"
_GROUP = r"'(?P<group>[^']+)'"

# (pattern, event.action, event.type, event.outcome); groups named user / group / gid / by
_RULES: tuple[tuple[re.Pattern[str], str, tuple[str, ...], str], ...] = (
    (re.compile(r"new user: name=(?P<user>[^,\s]+), UID="), "user_created", _USER_NEW, _OK),
    (re.compile(r"new group: name=(?P<group>[^,\s]+), GID=(?P<gid>\d+)"), "group_created", _GROUP_NEW, _OK),
    (
        re.compile(r"group added to \S+: name=(?P<group>[^,\s]+)(?:, GID=(?P<gid>\d+))?"),
        "group_created",
        _GROUP_NEW,
        _OK,
    ),
    (re.compile(r"add " + _NAME + r" to (?:shadow )?group " + _GROUP), "user_added_to_group", _GROUP_CHANGE, _OK),
    (
        re.compile(r"(?:delete|removed) " + _NAME + r" from (?:shadow )?group " + _GROUP),
        "user_removed_from_group",
        _GROUP_CHANGE,
        _OK,
    ),
    (re.compile(r"delete user " + _NAME), "user_deleted", _USER_GONE, _OK),
    (re.compile(r"removed (?:shadow )?group " + _GROUP), "group_deleted", _GROUP_GONE, _OK),
    (re.compile(r"group " + _GROUP + " removed"), "group_deleted", _GROUP_GONE, _OK),
    (re.compile(r"change user name '[^']+' to " + _NAME), "user_modified", _USER_CHANGE, _OK),
    (re.compile(r"(?:change|lock|unlock) user " + _NAME), "user_modified", _USER_CHANGE, _OK),
    (re.compile(r"password for " + _NAME + r" changed by '(?P<by>[^']+)'"), "password_changed", _USER_CHANGE, _OK),
    (re.compile(r"changed password expiry for (?P<user>\S+)"), "user_modified", _USER_CHANGE, _OK),
    (re.compile(r"failed adding user " + _NAME), "user_created", _USER_NEW, "failure"),
    (
        re.compile(r"(?:cannot|can't) (?:add|create) (?:user|group) '?(?P<user>[^'\s]+)"),
        "user_created",
        _USER_NEW,
        "failure",
    ),
)


def enrich(event: dict[str, Any], message: str) -> bool:
    if message.startswith("pam_"):
        return pam.enrich(event, message)
    for pattern, action, kind, outcome in _RULES:
        found = pattern.match(message)
        if found is None:
            continue
        classify(event, action, _IAM, kind, outcome)
        names = found.groupdict()
        user(event, names.get("by"), names.get("user"))
        group_name = names.get("group")
        if group_name:
            group: dict[str, Any] = {"name": group_name}
            gid = long(names.get("gid") or "")
            if gid is not None:
                group["id"] = str(gid)
            event["group"] = group
        return True
    return False
