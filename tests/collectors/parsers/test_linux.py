# ruff: noqa: E501  (log lines are corpus data; they stay whole)
from typing import Any

import pytest

from tests.collectors.parsers.contract import get, run


def enriched(program_and_message: str) -> dict[str, Any]:
    return run("syslog", f"Nov 26 23:59:44 vm {program_and_message}")


# (line after host, expected fields)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("sshd[1]: Accepted publickey for alice from 127.0.0.10 port 55807 ssh2: ED25519 SHA256:WoKW",
     {"event.action": "ssh_login", "event.outcome": "success", "user.name": "alice", "source.ip": "127.0.0.10",
      "source.port": 55807, "event.category": ["authentication"], "event.type": ["start"]}),
    ("sshd[1]: Accepted password for bob from 2001:db8::5 port 22 ssh2",
     {"event.action": "ssh_login", "event.outcome": "success", "user.name": "bob", "source.ip": "2001:db8::5"}),
    ("sshd[1]: Failed password for root from 127.0.0.31 port 46232 ssh2",
     {"event.action": "ssh_login", "event.outcome": "failure", "user.name": "root", "source.ip": "127.0.0.31"}),
    ("sshd[1]: Failed password for invalid user admin from 203.0.113.9 port 4000 ssh2",
     {"event.action": "ssh_login", "event.outcome": "failure", "user.name": "admin", "event.reason": "invalid user"}),
    # an attacker-chosen user name that imitates the rest of the line: the real address is the last one
    ("sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 203.0.113.9 port 4000 ssh2",
     {"source.ip": "203.0.113.9", "source.port": 4000, "user.name": "x from 6.6.6.6 port 1 ssh2"}),
    ("sshd[1]: Failed publickey for alice from 198.51.100.4 port 50000 ssh2: RSA SHA256:abc",
     {"event.outcome": "failure", "user.name": "alice", "source.ip": "198.51.100.4"}),
    ("sshd[1]: Invalid user oracle from 203.0.113.9 port 4001",
     {"event.action": "ssh_invalid_user", "event.outcome": "failure", "user.name": "oracle", "source.port": 4001}),
    ("sshd[1]: input_userauth_request: invalid user test [preauth]",
     {"event.action": "ssh_invalid_user", "user.name": "test"}),
    ("sshd[1]: Connection closed by authenticating user alice 127.0.0.10 port 48925 [preauth]",
     {"event.action": "ssh_connection_closed", "user.name": "alice", "source.ip": "127.0.0.10"}),
    ("sshd[1]: Connection closed by 5.188.10.180 [preauth]",
     {"event.action": "ssh_connection_closed", "source.ip": "5.188.10.180"}),
    ("sshd[1]: Disconnected from user alice 127.0.0.10 port 55807",
     {"event.action": "ssh_disconnect", "user.name": "alice", "event.type": ["end"]}),
    ("sshd[1]: Disconnected from authenticating user root 127.0.0.31 port 46204 [preauth]",
     {"event.action": "ssh_disconnect", "user.name": "root", "source.ip": "127.0.0.31"}),
    ("sshd[1]: Received disconnect from 127.0.0.31 port 46204:11: Bye Bye [preauth]",
     {"event.action": "ssh_disconnect", "source.ip": "127.0.0.31", "source.port": 46204}),
    ("sshd[1]: Received disconnect from 183.62.140.253: 11: Bye Bye [preauth]",
     {"event.action": "ssh_disconnect", "source.ip": "183.62.140.253"}),
    ("sshd[1]: error: maximum authentication attempts exceeded for root from 127.0.0.31 port 46232 ssh2 [preauth]",
     {"event.action": "ssh_max_auth_attempts", "event.outcome": "failure", "user.name": "root"}),
    ("sshd[1]: Disconnecting authenticating user root 127.0.0.31 port 46232: Too many authentication failures [preauth]",
     {"event.action": "ssh_disconnect", "user.name": "root", "source.ip": "127.0.0.31"}),
    ("sshd[1]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.31  user=root",
     {"event.action": "authentication_failure", "event.outcome": "failure", "user.name": "root", "source.ip": "127.0.0.31"}),
    ("sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.31  user=root",
     {"event.action": "authentication_failure", "user.name": "root", "source.ip": "127.0.0.31"}),
    # unknown user: no user= at all, and a trailing space
    ("sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=evil.example ",
     {"event.action": "authentication_failure", "user.name": None, "source.address": "evil.example"}),
    ("sshd[1]: pam_unix(sshd:session): session opened for user alice(uid=1005) by (uid=0)",
     {"event.action": "session_opened", "user.name": "alice", "event.category": ["session"]}),
    ("sshd[1]: pam_unix(sshd:session): session closed for user alice",
     {"event.action": "session_closed", "user.name": "alice", "event.type": ["end"]}),
    ("sshd[1]: reverse mapping checking getaddrinfo for ns.example [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
     {"event.action": "ssh_reverse_mapping_failed", "source.ip": "173.234.31.186"}),
    ("sshd[1]: Did not receive identification string from 203.0.113.50 port 61000",
     {"event.action": "ssh_no_identification", "source.ip": "203.0.113.50"}),
    ("sshd[1]: Unable to negotiate with 203.0.113.51 port 1022: no matching key exchange method found.",
     {"event.action": "ssh_negotiation_failed", "source.port": 1022}),
    ("sshd[1]: User mallory from 203.0.113.52 not allowed because not listed in AllowUsers",
     {"event.action": "ssh_login_denied", "user.name": "mallory", "event.outcome": "failure"}),
    ("sshd-session[1]: Accepted password for carol from 192.0.2.1 port 2 ssh2",
     {"event.action": "ssh_login", "process.name": "sshd-session"}),
    # sudo
    ("sudo: alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/su - -c whoami",
     {"event.action": "sudo_command", "event.outcome": "success", "user.name": "alice", "user.target.name": "root",
      "process.command_line": "/usr/bin/su - -c whoami", "process.executable": "/usr/bin/su",
      "process.working_directory": "/home/alice"}),
    ("sudo:    alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
     {"event.action": "sudo_incorrect_password", "event.outcome": "failure", "user.name": "alice",
      "user.target.name": "root", "event.category": ["authentication"]}),
    ("sudo: mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_not_allowed", "event.outcome": "failure", "user.name": "mallory"}),
    # COMMAND is the user's own text: a fake "; USER=" inside it changes nothing
    ("sudo: bob : TTY=pts/3 ; PWD=/ ; USER=www-data ; GROUP=www ; COMMAND=/bin/echo a ; USER=root",
     {"user.target.name": "www-data", "process.command_line": "/bin/echo a ; USER=root"}),
    ("sudo: pam_unix(sudo:auth): authentication failure; logname= uid=1005 euid=0 tty=/dev/pts/1 ruser=alice rhost=  user=alice",
     {"event.action": "authentication_failure", "user.name": "alice", "source.ip": None}),
    ("sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1005)",
     {"event.action": "session_opened", "user.name": "alice", "user.target.name": "root"}),
    # su
    ("su[2]: (to root) alice on pts/0", {"event.action": "su_session", "event.outcome": "success",
                                         "user.name": "alice", "user.target.name": "root"}),
    ("su[2]: FAILED SU (to root) bob on pts/1", {"event.action": "su_session", "event.outcome": "failure",
                                                 "user.name": "bob", "user.target.name": "root"}),
    ("su[2]: Successful su for postgres by root", {"event.outcome": "success", "user.target.name": "postgres"}),
    ("su[2]: FAILED su for root by eve", {"event.outcome": "failure", "user.name": "eve"}),
    ("su[2]: - pts/3 eve:root", {"event.outcome": "failure", "user.name": "eve", "user.target.name": "root"}),
    # accounts
    ("useradd[3]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
     {"event.action": "user_created", "user.target.name": "bob", "event.category": ["iam"],
      "event.type": ["user", "creation"]}),
    ("useradd[3]: new group: name=bob, GID=1001", {"event.action": "group_created", "group.name": "bob", "group.id": "1001"}),
    ("groupadd[3]: group added to /etc/group: name=devs, GID=1002", {"event.action": "group_created", "group.name": "devs"}),
    ("usermod[3]: add 'bob' to group 'sudo'", {"event.action": "user_added_to_group", "user.target.name": "bob",
                                              "group.name": "sudo"}),
    ("usermod[3]: change user 'bob' shell from '/bin/sh' to '/bin/bash'", {"event.action": "user_modified"}),
    ("usermod[3]: lock user 'bob' password", {"event.action": "user_modified", "user.target.name": "bob"}),
    ("userdel[3]: delete user 'bob'", {"event.action": "user_deleted", "user.target.name": "bob"}),
    ("groupdel[3]: group 'devs' removed", {"event.action": "group_deleted", "group.name": "devs"}),
    ("passwd[3]: pam_unix(passwd:chauthtok): password changed for bob", {"event.action": "password_changed",
                                                                       "user.target.name": "bob"}),
    ("passwd[3]: password for 'bob' changed by 'root'", {"event.action": "password_changed", "user.name": "root",
                                                         "user.target.name": "bob"}),
    # cron, logind, kernel
    ("CRON[18464]: (alice) CMD (/usr/bin/uptime >/dev/null 2>&1)",
     {"event.action": "cron_command", "user.name": "alice", "process.command_line": "/usr/bin/uptime >/dev/null 2>&1",
      "process.name": "CRON", "event.category": ["process"]}),
    ("crontab[9]: (eve) REPLACE (eve)", {"event.action": None}),
    ("cron[9]: (eve) REPLACE (eve)", {"event.action": "crontab_replace", "user.name": "eve"}),
    ("systemd-logind[512]: New session 42 of user alice.", {"event.action": "session_created", "user.name": "alice"}),
    ("systemd-logind[512]: Removed session 42.", {"event.action": "session_removed", "event.type": ["end"]}),
    ("kernel: [ 1234.567890] DROP-IN IN=eth0 OUT= MAC=00:11 SRC=203.0.113.7 DST=10.0.0.5 LEN=60 PROTO=TCP SPT=51515 DPT=22",
     {"event.action": "firewall_packet", "source.ip": "203.0.113.7", "source.port": 51515,
      "destination.ip": "10.0.0.5", "destination.port": 22, "network.transport": "tcp", "event.reason": "DROP-IN"}),
    ("kernel: Out of memory: Killed process 4242 (java) total-vm:1kB", {"event.action": "oom_kill"}),
    ("kernel: [ 5.1] device eth0 entered promiscuous mode", {"event.action": "promiscuous_mode_entered"}),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[case[0][:60] for case in CASES])
def test_program_messages_are_enriched(line: str, expected: dict[str, Any]) -> None:
    event = enriched(line)
    for field, value in expected.items():
        assert get(event, field) == value, field


def test_user_names_and_addresses_land_in_related() -> None:
    event = enriched("sudo: alice : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/true")
    assert event["related"]["user"] == ["alice", "root"]
    event = enriched("sshd[1]: Failed password for root from 127.0.0.31 port 1 ssh2")
    assert event["related"]["ip"] == ["127.0.0.31"]


def test_an_unknown_message_of_a_known_program_is_not_a_failure() -> None:
    event = enriched("sshd[1]: pam_systemd(sshd:session): Failed to connect to system bus: No such file or directory")
    assert "action" not in event["event"] and "tags" not in event
    assert event["process"]["name"] == "sshd"


def test_not_an_ip_is_never_put_in_an_ip_field() -> None:
    event = enriched("sshd[1]: Failed password for root from host.example port 99999 ssh2")
    assert "ip" not in event["source"] and event["source"]["address"] == "host.example"
    assert "port" not in event["source"]  # 99999 is no port
