"""Optional delivery of a produced report: a signed webhook POST and/or an email with the files.

The webhook body is JSON ``{"event": "report.weekly", "report": {id, week, scope, agency, lang,
summary}, "at"}`` signed like the incident webhooks (``X-SOC-Signature: t=...,v1=HMAC-SHA256``,
see soc.incidents.notify). Email goes through the configured SMTP relay with the report's
files attached. A failed delivery is reported in the result and never loses the report itself.
"""

from __future__ import annotations

import json
import smtplib
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from soc.incidents.notify import SIGNATURE_HEADER, sign
from soc.reports.i18n import labels
from soc.reports.settings import ReportSettings

ATTACH = {"pdf": ("application", "pdf"), "html": ("text", "html"), "csv": ("text", "csv"),
          "json": ("application", "json")}


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("id", "week", "week_start", "week_end", "scope", "lang", "formats", "summary")} | {
        "agency": doc["organization"]["id"]}


def send_webhook(rs: ReportSettings, doc: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    body = json.dumps({"event": "report.weekly", "at": datetime.now(UTC).isoformat(), "report": _meta(doc)},
                      sort_keys=True, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-SOC-Event": "report.weekly",
               SIGNATURE_HEADER: sign(rs.webhook_secret, int(time.time()), body)}
    try:
        resp = httpx.post(rs.webhook_url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": 200 <= resp.status_code < 300, "status": resp.status_code}


def send_email(rs: ReportSettings, doc: dict[str, Any], paths: dict[str, Path],
               timeout: float = 30.0) -> dict[str, Any]:
    words = labels(doc["lang"])
    msg = EmailMessage()
    agency = doc["organization"]["id"]
    msg["Subject"] = f"{words['title']} {doc['week']} - {words['province'] if agency == '*' else agency}"
    msg["From"] = rs.mail_from
    msg["To"] = ", ".join(rs.mail_to)
    summary = doc.get("summary") or {}
    msg.set_content("\n".join([f"{words['title']} {doc['week']}", "",
                               *(f"{key}: {value}" for key, value in summary.items())]))
    for fmt in ("pdf", "html", "csv", "json"):
        if fmt in paths:
            main, sub = ATTACH[fmt]
            msg.add_attachment(paths[fmt].read_bytes(), maintype=main, subtype=sub, filename=paths[fmt].name)
    try:
        with smtplib.SMTP(rs.smtp_host, rs.smtp_port, timeout=timeout) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "to": list(rs.mail_to)}


def deliver(rs: ReportSettings, doc: dict[str, Any], paths: dict[str, Path]) -> dict[str, Any]:
    """Whatever delivery is configured; an empty dict when none is."""
    out: dict[str, Any] = {}
    if rs.webhook_url:
        out["webhook"] = send_webhook(rs, doc)
    if rs.smtp_host and rs.mail_to:
        out["email"] = send_email(rs, doc, paths)
    return out
