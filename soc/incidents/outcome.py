"""Did it work? Each alert's outcome, judged from its events and the logs around them.

An alert gets ``outcome: {"result", "reason"}`` where result is one of:

- ``succeeded``: a web attack answered 2xx/3xx with a response unlike the usual answer of that path;
  failed SSH/PAM authentications from an address followed by an accepted login from it; an accepted
  login itself; sudo or su to root, or an account created, by a user who had just logged in from an
  address with failed attempts;
- ``failed``: web requests answered 4xx/5xx, or 2xx with the usual size of that path; failed
  authentications never followed by a login from the address;
- ``possible``: answered 2xx/3xx where the path's usual size is not known; a privileged act without
  a suspicious login before it;
- ``unknown``: the logs cannot tell (no events kept, or events of another kind).

An alert's result is its events' strongest: any success, else failed when every event failed.
Web alerts also get ``fingerprints`` (their events' user agents), which campaigns match on.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from soc.alerts.store import PendingAlert
from soc.incidents import model
from soc.incidents.evidence_store import EvidenceStore
from soc.incidents.outcome_store import OutcomeStore
from soc.runtime import Runtime

RESULTS = ("succeeded", "failed", "possible", "unknown")
USUAL_LOOKBACK = timedelta(days=7)  # where a path's usual response size is learnt
FOLLOW_UP = timedelta(hours=24)  # how long after failures a login from the address counts
MAX_EVENTS = 20  # of an alert's events, the first ones judged (a correlation keeps up to 50)
MAX_AGENT = 300  # characters of a user agent kept as a fingerprint
PRIVILEGED = {"sudo_command": "sudo", "su_session": "su", "user_created": "account created"}
Verdict = tuple[str, str]


def _size_verdict(code: int, size: Any, path: str, usual: float | None) -> Verdict:
    if usual is None or not isinstance(size, int | float):
        return "possible", f"HTTP {code}"
    if abs(float(size) - usual) <= max(0.1 * usual, 32.0):
        return "failed", f"HTTP {code}, {int(size)} bytes: the usual answer of {path}"
    return "succeeded", f"HTTP {code} with {int(size)} bytes where {path} usually answers {int(usual)}"


class Judge:
    """Judges the alerts of one grouping batch, asking the logs at most once per address or user."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.logs = OutcomeStore(rt.client, rt.names)
        self._logins: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def web(self, agency: str, events: list[dict[str, Any]], sizes: dict[str, float]) -> list[Verdict]:
        out = []
        for e in events:
            code = int(model.dotted(e, "http.response.status_code"))
            if code >= 400:
                out.append(("failed", f"HTTP {code}"))
            else:
                path = str(model.dotted(e, "url.path") or "")
                out.append(_size_verdict(code, model.dotted(e, "http.response.body.bytes"), path, sizes.get(path)))
        return out

    def _login_after(self, agency: str, address: str, since: str) -> dict[str, Any] | None:
        key = (agency, address, since)
        if key not in self._logins:
            until = model.iso(model.parse_time(since) + FOLLOW_UP)
            self._logins[key] = self.logs.logins(agency, "source.ip", address, since, until, 1)
        found = self._logins[key]
        return found[0] if found else None

    def auth(self, agency: str, events: list[dict[str, Any]]) -> list[Verdict]:
        """Accepted logins succeed; failed authentications succeed when a login from the same address
        followed the first of them (one look-up per address), and fail otherwise."""
        out: list[Verdict] = []
        first_failure: dict[str, str] = {}
        for e in events:
            action, result = model.dotted(e, "event.action"), model.dotted(e, "event.outcome")
            address, user = model.dotted(e, "source.ip"), model.dotted(e, "user.name")
            if action == "ssh_login" and result == "success":
                out.append(("succeeded", f"SSH login accepted for {user} from {address}"))
            elif result == "failure" and "authentication" in (model.dotted(e, "event.category") or []) and address:
                at = str(model.dotted(e, "@timestamp"))
                known = first_failure.get(str(address))
                first_failure[str(address)] = at if known is None else min(known, at, key=model.parse_time)
        for address, since in sorted(first_failure.items()):
            login = self._login_after(agency, address, since)
            if login is None:
                out.append(("failed", "authentication failed, no login from the address followed"))
            else:
                out.append(("succeeded", f"after failed attempts, SSH login accepted for "
                                         f"{model.dotted(login, 'user.name')} from {address} at {login['@timestamp']}"))
        return out

    def privileged(self, agency: str, e: dict[str, Any]) -> Verdict | None:
        action = str(model.dotted(e, "event.action") or "")
        if action not in PRIVILEGED or model.dotted(e, "event.outcome") != "success":
            return None
        target = model.dotted(e, "user.target.name")
        if action in ("sudo_command", "su_session") and target not in (None, "root"):
            return None
        actor = model.dotted(e, "user.name")
        what = f"{PRIVILEGED[action]} ({target or '?'}) by {actor}"
        if not actor:
            return "possible", what
        at = model.parse_time(str(model.dotted(e, "@timestamp")))
        for login in self.logs.logins(agency, "user.name", str(actor), model.iso(at - FOLLOW_UP), model.iso(at)):
            address = model.dotted(login, "source.ip")
            start = model.iso(model.parse_time(login["@timestamp"]) - FOLLOW_UP)
            failures = self.logs.auth_failures(agency, str(address), start, login["@timestamp"]) if address else 0
            if failures:
                return "succeeded", f"{what} after a login from {address} that followed {failures} failed attempts"
        return "possible", what

    def judge(self, alerts: list[PendingAlert]) -> None:
        """Set ``outcome`` on each alert's document (not stored here: the claim writes it)."""
        sample = {a.id: (a.doc.get("events") or [])[:MAX_EVENTS] for a in alerts}
        refs = [r for refs in sample.values() for r in refs]
        found = EvidenceStore(self.rt.client, self.rt.names).events(refs) if refs else {}
        events = {a.id: [found[(r["index"], r["id"])] for r in sample[a.id]
                         if (r.get("index"), r.get("id")) in found] for a in alerts}
        paths: dict[str, set[str]] = defaultdict(set)
        spans: dict[str, list[str]] = {}
        for a in alerts:
            agency = a.doc["organization"]["id"]
            for e in events[a.id]:
                if model.dotted(e, "http.response.status_code") is not None and model.dotted(e, "url.path"):
                    paths[agency].add(str(model.dotted(e, "url.path")))
                    span = spans.setdefault(agency, [a.doc["first_seen"], a.doc["last_seen"]])
                    span[0] = min(span[0], a.doc["first_seen"], key=model.parse_time)
                    span[1] = max(span[1], a.doc["last_seen"], key=model.parse_time)
        sizes = self.logs.usual_sizes_many({  # every agency in one request
            agency: (sorted(p), model.iso(model.parse_time(spans[agency][0]) - USUAL_LOOKBACK), spans[agency][1])
            for agency, p in paths.items()})
        for a in alerts:
            agency = a.doc["organization"]["id"]
            verdicts: list[Verdict] = []
            web = [e for e in events[a.id] if model.dotted(e, "http.response.status_code") is not None]
            verdicts += self.web(agency, web, sizes.get(agency, {}))
            rest = [e for e in events[a.id] if model.dotted(e, "http.response.status_code") is None]
            verdicts += self.auth(agency, rest)
            for e in rest:
                v = self.privileged(agency, e)
                if v is not None:
                    verdicts.append(v)
            if rest and len(verdicts) == len(web):  # events of a kind the logs say nothing more about
                verdicts.append(("unknown", ""))
            a.doc["outcome"] = combine(verdicts)
            agents = sorted({str(ua)[:MAX_AGENT] for e in web if (ua := model.dotted(e, "user_agent.original"))})
            if agents:  # what campaigns match across agencies besides the address
                a.doc["fingerprints"] = [f"user_agent.original={ua}" for ua in agents[:5]]


def combine(verdicts: list[Verdict]) -> dict[str, str]:
    for result in ("succeeded",):
        hit = next((v for v in verdicts if v[0] == result), None)
        if hit:
            return {"result": hit[0], "reason": hit[1]}
    if verdicts and all(v[0] == "failed" for v in verdicts):
        return {"result": "failed", "reason": verdicts[0][1]}
    hit = next((v for v in verdicts if v[0] == "possible"), None)
    return {"result": "possible", "reason": hit[1]} if hit else {"result": "unknown", "reason": ""}
