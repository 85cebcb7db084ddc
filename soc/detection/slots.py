"""Detection work cut into slots (log stream x rule group), each with its own lease and checkpoint.

A rule belongs to group ``sha256(rule id) mod N`` (N = ``rule_groups``, default 1); a correlation
pulls the rules it references into its own group, so its base matches are always evaluated by the
instance that evaluates it. One document per slot in ``soc-checkpoints`` holds both the slot's
checkpoint (``position``) and its lease (``owner``, ``lease_until_ms`` on the node's clock). Every
write to it is conditional on the sequence number read or written last, so two instances can never
both advance a slot: the loser's write is refused and the window is evaluated again by the holder
(alert ids are deterministic, so nothing is duplicated).

Each cycle an instance announces itself (an instance document with its own expiry), counts the
live instances, keeps the slots it holds up to its fair share (ceil(slots / live instances)),
gives back the extra ones and takes free or expired slots up to that share. A slot whose document
does not exist yet starts from the stream's former per-stream checkpoint (``detect:<stream>``),
which is also the single slot's document when N is 1: one instance with the defaults behaves as
before the split.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.detection import store
from soc.detection.convert import CompiledCorrelation, Result
from soc.search import Names

INSTANCE_JOB = "detect-instance"


@dataclass(frozen=True, order=True)
class Slot:
    stream: str
    group: int
    groups: int

    @property
    def legacy_id(self) -> str:
        return f"detect:{self.stream}"

    @property
    def doc_id(self) -> str:
        return self.legacy_id if self.groups == 1 else f"{self.legacy_id}:g{self.group}-of-{self.groups}"

    @property
    def label(self) -> str:
        """How reports and metrics name the slot: the stream alone when there is one group."""
        return self.stream if self.groups == 1 else f"{self.stream}#g{self.group}"


@dataclass
class Held:
    """A slot this instance holds for the current cycle: where it starts and the version to write over."""

    slot: Slot
    position: datetime | None
    version: tuple[int, int]  # (seq_no, primary_term) of the slot document as last written


def group_of(rule_id: str, groups: int) -> int:
    return int(hashlib.sha256(rule_id.encode()).hexdigest()[:12], 16) % max(1, groups)


def assign(compiled: list[Result], groups: int) -> dict[str, int]:
    """rule id -> group; a rule referenced by a correlation joins that correlation's group."""
    out = {c.rule.id: group_of(c.rule.id, groups) for c in compiled}
    for corr in sorted((c for c in compiled if isinstance(c, CompiledCorrelation)), key=lambda c: c.rule.id,
                       reverse=True):  # the first correlation by id wins a rule several refer to
        g = out[corr.rule.id]
        for base in corr.bases:
            out[base.rule.id] = g
        for ref in getattr(corr.rule.rule, "rules", None) or []:
            ref_id = str(getattr(getattr(ref, "rule", None), "id", "") or "")
            if ref_id:
                out[ref_id] = g
    return out


def all_slots(streams: tuple[str, ...], groups: int) -> list[Slot]:
    n = max(1, groups)
    return [Slot(s, g, n) for s in streams for g in range(n)]


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _doc(slot: Slot, owner: str | None, until_ms: int, position: str | None, now: datetime) -> dict[str, Any]:
    return {"job": slot.doc_id, "owner": owner, "lease_until_ms": until_ms, "position": position,
            "updated": store.iso(now)}


def claim(client: OpenSearch, names: Names, slots: list[Slot], owner: str, lease_s: float,
          now: datetime) -> list[Held]:
    """Announce this instance, then keep, give back and take slots up to the fair share; the held slots."""
    now_ms, until_ms = _ms(now), _ms(now) + int(lease_s * 1000)
    live = store.announce_instance(client, names, INSTANCE_JOB, owner, until_ms, now_ms)
    share = math.ceil(len(slots) / max(1, len(live | {owner})))
    ids = sorted({s.doc_id for s in slots} | {s.legacy_id for s in slots})
    docs = store.get_docs(client, names, ids)
    mine: list[Slot] = []
    free: list[Slot] = []
    for slot in slots:
        doc = docs.get(slot.doc_id)
        src = doc["_source"] if doc else {}
        if doc and src.get("owner") == owner:
            mine.append(slot)
        elif not doc or not src.get("owner") or int(src.get("lease_until_ms") or 0) <= now_ms:
            free.append(slot)
    # Spread takers over different free slots: each instance prefers its own order.
    free.sort(key=lambda s: hashlib.sha256(f"{owner}|{s.doc_id}".encode()).hexdigest())
    keep, give_back = mine[:share], mine[share:]
    take = free[:max(0, share - len(keep))]
    writes: list[tuple[str, dict[str, Any], tuple[int, int] | None]] = []
    for slot in [*keep, *take, *give_back]:
        doc = docs.get(slot.doc_id)
        if doc:
            position = doc["_source"].get("position")
            version: tuple[int, int] | None = (int(doc["_seq_no"]), int(doc["_primary_term"]))
        else:  # a new slot continues from the stream's former checkpoint (migration), if any
            legacy = docs.get(slot.legacy_id)
            position = legacy["_source"].get("position") if legacy else None
            version = None
        giving = slot in give_back
        writes.append((slot.doc_id, _doc(slot, None if giving else owner, 0 if giving else until_ms,
                                         position, now), version))
    written = store.conditional_writes(client, names, writes)
    held: list[Held] = []
    for slot in [*keep, *take]:
        new_version = written.get(slot.doc_id)
        if new_version is None:
            continue  # another instance got there first
        position = next(w[1]["position"] for w in writes if w[0] == slot.doc_id)
        held.append(Held(slot, store.parse_time(position) if position else None, new_version))
    return sorted(held, key=lambda h: h.slot)


def advance(client: OpenSearch, names: Names, moves: list[tuple[Held, datetime]], owner: str | None,
            lease_s: float, now: datetime, also: Sequence[dict[str, Any]] = ()) -> dict[Slot, tuple[int, int]]:
    """Write each held slot's new checkpoint (and renew or, with owner None, give back its lease);
    the slots whose write was accepted, with the version written. A refused write means the lease was
    lost: nothing advances. ``also``: more bulk operations sent in the same request (the rules' states)."""
    until_ms = _ms(now) + int(lease_s * 1000) if owner else 0
    writes = [(h.slot.doc_id, _doc(h.slot, owner, until_ms, store.iso(end), now), h.version) for h, end in moves]
    written = store.conditional_writes(client, names, writes, also)
    return {h.slot: v for h, _ in moves if (v := written.get(h.slot.doc_id)) is not None}


def give_back(client: OpenSearch, names: Names, held: list[Held], now: datetime) -> None:
    """Release held slots without moving their checkpoints (a one-shot run that stopped early)."""
    writes = [(h.slot.doc_id, _doc(h.slot, None, 0, store.iso(h.position) if h.position else None, now),
               h.version) for h in held]
    store.conditional_writes(client, names, writes)


def leave(client: OpenSearch, names: Names, owner: str) -> None:
    store.drop_instance(client, names, INSTANCE_JOB, owner)
