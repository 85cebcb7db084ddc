"""What a detection cycle asks of threat intelligence (one call from soc.detection.runner.evaluate).

1. Each stream's window (the slot of rule group 0, so a window is matched once) is matched against
   the live indicators; the alerts join the cycle's, written in its one bulk request before the
   checkpoints move, so a crash re-runs the window and the deterministic ids prevent duplicates.
2. Indicators not yet searched for in the past are searched for over the last ``retro_days``; those
   alerts are written here, and only then are the indicators marked done (a crash in between
   searches again, without duplicates).
3. Every alert of the cycle gets geo and AS data beside its public addresses; private and
   documentation addresses are labelled and never looked up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from opensearchpy import OpenSearch

from soc import search
from soc.alerts import store as alert_store
from soc.alerts.documents import AlertDoc
from soc.intel import geo, matching
from soc.intel import settings as intel_settings
from soc.intel import store as intel_store
from soc.search import Names

if TYPE_CHECKING:
    from soc.detection.runner import Work


def enrich_all(found: list[tuple[str, AlertDoc]], db: geo.GeoDatabases | None) -> None:
    for _, doc in found:
        geo.enrich(cast(dict[str, Any], doc), db)


def run(client: OpenSearch, names: Names, works: list[Work], created: str, found: list[tuple[str, AlertDoc]],
        settings: intel_settings.IntelSettings | None = None) -> list[tuple[str, AlertDoc]]:
    """The cycle's alerts plus its indicator matches, all enriched."""
    s = settings or intel_settings.load()
    db = geo.databases(s.geoip_databases)
    out = list(found)
    first = [w for w in works if w.slot.group == 0]
    if first and intel_store.count(client, names):
        now = datetime.now(UTC)
        for w in first:
            out += matching.match_window(client, names, names(w.slot.stream), w.since, w.end, now, created, s.max_hits)
        retro(client, names, now, created, s, db)
    enrich_all(out, db)
    return out


def retro(client: OpenSearch, names: Names, now: datetime, created: str, s: intel_settings.IntelSettings,
          db: geo.GeoDatabases | None) -> int:
    """The retro-hunt of the indicators imported since the last one; returns the alerts it created."""
    index = ",".join(names(stream) for stream in search.LOG_STREAMS)
    found, per = matching.retro_hunt(client, names, index, now - timedelta(days=s.retro_days), now, created,
                                     s.max_hits)
    if not per:
        return 0
    enrich_all(found, db)
    made, _ = alert_store.create_alerts(client, names, found)
    intel_store.mark_retro(client, names, per, now)
    return made
