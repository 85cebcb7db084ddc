"""Notifications: signed webhook POSTs and e-mails, delivered by a background worker with retries.

``publish`` only enqueues, so the API never waits on a receiver or a mail relay. Subscriptions
(webhooks and e-mail, each per agency and minimum severity) are read from ``soc-users`` when an
event is fanned out. Each attempt is logged in the audit trail (``webhook.delivery`` or
``email.delivery``); a failed attempt is retried with exponential backoff up to ``max_attempts``.

The webhook signature header is
``X-SOC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``: the receiver
recomputes it with the shared secret and rejects old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import smtplib
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
from opensearchpy import OpenSearch

from soc.accounts import store as accounts_store
from soc.alerts.documents import SEVERITY_RANK
from soc.audit import store as audit_store
from soc.errors import Invalid
from soc.incidents import destinations, mail
from soc.search import Names

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-SOC-Signature"
FAN_OUT_BATCH = 100  # events at most that share one subscription search
INCIDENT_FIELDS = ("id", "title", "status", "severity", "organization", "alert_count", "first_seen",
                   "last_seen", "assignee", "tags", "entities", "sla")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(parts["t"]), body), header)


@dataclass
class Delivery:
    target: dict[str, Any]  # the subscription: a webhook, or an e-mail subscription
    body: bytes
    event: str
    incident_id: str
    agency: str
    delivery_id: str
    attempt: int = 0
    email: EmailMessage | None = None  # set for e-mail deliveries

    @property
    def channel(self) -> str:
        return "webhook" if self.email is None else "email"


class Notifier:
    def __init__(self, client: OpenSearch, names: Names, max_attempts: int = 6, backoff: float = 2.0,
                 timeout: float = 5.0, mail_settings: mail.MailSettings | bool | None = True,
                 allow_private: bool = False) -> None:
        """``mail_settings``: the SMTP relay; True reads it from the environment, None sends no e-mail.
        ``allow_private``: webhooks may reach loopback, link-local and private addresses."""
        self.client, self.names = client, names
        self.allow_private = allow_private
        self.mail = mail.MailSettings.from_env() if mail_settings is True else (mail_settings or None)
        self.max_attempts, self.backoff, self.timeout = max_attempts, backoff, timeout
        self._heap: list[tuple[float, int, Delivery | tuple[str, dict[str, Any], dict[str, Any]]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._stop = False
        self._sent = {"delivered": 0, "failed": 0, "retried": 0}
        self._thread: threading.Thread | None = None
        self.outcomes: list[dict[str, Any]] = []  # recent attempts, newest last (bounded)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="soc-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def counts(self) -> dict[str, int]:
        """Queued notifications (events and deliveries waiting) and attempts by outcome, for /metrics."""
        with self._cond:
            return {"queued": len(self._heap) + self._busy, **self._sent}

    def publish(self, event: str, incident: dict[str, Any], **extra: Any) -> None:
        self._push(time.monotonic(), (event, incident, extra))

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or being sent (shutdown and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _push(self, due: float, item: Delivery | tuple[str, dict[str, Any], dict[str, Any]]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), item))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stop:
                    return
                _, _, item = heapq.heappop(self._heap)
                events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
                if not isinstance(item, Delivery):
                    # Events published meanwhile (a change that breaches both SLA targets publishes two,
                    # and many requests publish at once under load) share one subscription search.
                    events.append(item)
                    now = time.monotonic()
                    while (len(events) < FAN_OUT_BATCH and self._heap and self._heap[0][0] <= now
                           and not isinstance(self._heap[0][2], Delivery)):
                        events.append(heapq.heappop(self._heap)[2])  # type: ignore[arg-type]
                self._busy += 1
            try:
                if isinstance(item, Delivery):
                    self._attempt(item)
                else:
                    self._fan_out(events)
            except Exception:
                log.exception("webhook worker failed on one item")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _fan_out(self, events: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """Deliveries for each event, in the order published, from one search per subscription kind."""
        agencies = {incident["organization"]["id"] for _, incident, _ in events}
        hooks = accounts_store.subscriptions_of(self.client, self.names, "webhook", agencies)
        mails = accounts_store.subscriptions_of(self.client, self.names, "email", agencies) if self.mail else []
        for event, incident, extra in events:
            agency, rank = incident["organization"]["id"], SEVERITY_RANK[incident["severity"]]
            for hook in hooks:
                if not accounts_store.wants(hook, agency, rank, SEVERITY_RANK):
                    continue
                delivery_id = uuid.uuid4().hex
                payload = {"event": event, "delivery": delivery_id, "at": datetime.now(UTC).isoformat(),
                           "incident": {k: incident.get(k) for k in INCIDENT_FIELDS}, **extra}
                body = json.dumps(payload, sort_keys=True, default=str).encode()
                self._attempt(Delivery(hook, body, event, incident["id"], agency, delivery_id))
            if self.mail is None:
                continue
            for sub in mails:
                if not accounts_store.wants(sub, agency, rank, SEVERITY_RANK):
                    continue
                delivery_id = uuid.uuid4().hex
                msg = mail.message(self.mail, list(sub["to"]), event, incident, delivery_id, extra)
                self._attempt(Delivery(sub, b"", event, incident["id"], agency, delivery_id, email=msg))

    def _send_mail(self, d: Delivery) -> tuple[bool, int | None, str]:
        assert self.mail is not None and d.email is not None
        try:
            mail.send(self.mail, d.email)
            return True, 250, ""
        except smtplib.SMTPResponseException as exc:
            return False, exc.smtp_code, f"{type(exc).__name__}: {exc.smtp_error!r}"
        except (smtplib.SMTPException, OSError) as exc:
            return False, None, f"{type(exc).__name__}: {exc}"

    def _post(self, d: Delivery) -> tuple[bool, int | None, str]:
        headers = {"Content-Type": "application/json", "X-SOC-Event": d.event, "X-SOC-Delivery": d.delivery_id,
                   SIGNATURE_HEADER: sign(d.target["secret"], int(time.time()), d.body)}
        try:  # the host may resolve elsewhere than when the webhook was created
            destinations.check(d.target["url"], self.allow_private)
        except Invalid as exc:
            d.attempt = self.max_attempts  # refused for good: no retry
            return False, None, f"refused: {exc}"
        try:
            resp = httpx.post(d.target["url"], content=d.body, headers=headers, timeout=self.timeout,
                              follow_redirects=False)
        except httpx.HTTPError as exc:
            return False, None, f"{type(exc).__name__}: {exc}"
        return 200 <= resp.status_code < 300, resp.status_code, ""

    def _attempt(self, d: Delivery) -> None:
        d.attempt += 1
        ok, status, error = self._post(d) if d.email is None else self._send_mail(d)
        final = ok or d.attempt >= self.max_attempts
        outcome = "delivered" if ok else ("failed" if final else "retrying")
        record = {"channel": d.channel, d.channel: d.target["id"], "delivery": d.delivery_id, "event": d.event,
                  "incident_id": d.incident_id, "attempt": d.attempt, "status": status, "outcome": outcome,
                  "error": error}
        self.outcomes = [*self.outcomes[-999:], record]
        self._sent["delivered" if ok else ("failed" if final else "retried")] += 1
        try:
            audit_store.append(self.client, self.names, [audit_store.entry(
                datetime.now(UTC), "notifier", f"{d.channel}.delivery", d.channel, d.target["id"], d.agency,
                f"{d.event} for incident {d.incident_id}: {outcome}", **record)])
        except Exception:
            log.exception("could not log a webhook delivery")
        if not final:
            self._push(time.monotonic() + self.backoff * 2 ** (d.attempt - 1), d)
