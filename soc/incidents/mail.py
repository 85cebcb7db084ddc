"""Incident notifications by e-mail: the SMTP relay's settings, the message, and one send.

The relay is configured by environment variables (read when the notifier is built, never at
import): ``SOC_NOTIFY_SMTP_HOST`` (no host: no e-mail), ``SOC_NOTIFY_SMTP_PORT`` (25),
``SOC_NOTIFY_MAIL_FROM``, ``SOC_NOTIFY_SMTP_STARTTLS`` (1/0), ``SOC_NOTIFY_SMTP_USER`` and
``SOC_NOTIFY_SMTP_PASSWORD``. Who receives what is stored data: e-mail subscriptions per agency
and minimum severity in ``soc-users`` (see ``soc.accounts.store``).

Titles and entities come from log content an attacker wrote: the subject is stripped of control
characters (no header injection) and every value goes in the plain-text body only.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from soc.errors import ConfigError

MAX_SUBJECT = 200
BODY_FIELDS = ("id", "title", "status", "severity", "alert_count", "first_seen", "last_seen", "assignee")


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    sender: str = "soc-notify@localhost"
    starttls: bool = False
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MailSettings | None:
        env = dict(os.environ if env is None else env)
        host = env.get("SOC_NOTIFY_SMTP_HOST", "").strip()
        if not host:
            return None
        raw_port = env.get("SOC_NOTIFY_SMTP_PORT", "25")
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(f"SOC_NOTIFY_SMTP_PORT has an invalid value {raw_port!r}")
        starttls = env.get("SOC_NOTIFY_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes", "on")
        return cls(host, int(raw_port), env.get("SOC_NOTIFY_MAIL_FROM", cls.sender), starttls,
                   env.get("SOC_NOTIFY_SMTP_USER", ""), env.get("SOC_NOTIFY_SMTP_PASSWORD", ""))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)[:MAX_SUBJECT]


def message(settings: MailSettings, to: list[str], event: str, incident: dict[str, Any], delivery_id: str,
            extra: dict[str, Any]) -> EmailMessage:
    agency = (incident.get("organization") or {}).get("id", "")
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = _one_line(f"[SOC {incident.get('severity')}] {event}: {incident.get('title')} ({agency})")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="soc.local")
    msg["X-SOC-Event"] = event
    msg["X-SOC-Delivery"] = delivery_id
    lines = [f"Event: {event}", f"Agency: {agency}"]
    lines += [f"{name.replace('_', ' ').capitalize()}: {incident.get(name)}" for name in BODY_FIELDS]
    lines += [f"{name.capitalize()}: {value}" for name, value in sorted(extra.items())]
    entities = incident.get("entities") or []
    if entities:
        lines.append("Entities: " + ", ".join(str(e) for e in entities[:20]))
    sla = incident.get("sla") or {}
    if sla:
        lines.append(f"Acknowledge by: {sla.get('ack_due')}  Resolve by: {sla.get('resolve_due')}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send(settings: MailSettings, msg: EmailMessage) -> str:
    """Hand the message to the relay; returns the relay's answer, raises on any refusal."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
        refused = smtp.send_message(msg)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
    return "accepted"
