"""Which backing indices retention deletes: age counted from each index's rollover, never the write index."""

from __future__ import annotations

from soc.opensearch.retention import DAY_MS, expired

T0 = 1_700_000_000_000


def test_an_index_is_kept_its_full_days_after_its_rollover() -> None:
    # rolled over every 14 days: indices created at day 0, 14, 28; the last is the write index
    created = [T0, T0 + 14 * DAY_MS, T0 + 28 * DAY_MS]
    # day 100: the first index's newest events are 86 days old (it stopped at day 14): kept for 90 days
    assert expired(created, 90, T0 + 100 * DAY_MS) == []
    # counted from creation it would have gone at day 90, with events only 76 days old
    assert expired(created, 90, T0 + 104 * DAY_MS + 1) == [0]
    assert expired(created, 90, T0 + 118 * DAY_MS + 1) == [0, 1]


def test_the_write_index_is_never_deleted() -> None:
    assert expired([T0], 1, T0 + 1000 * DAY_MS) == []
    assert expired([T0, T0 + DAY_MS], 1, T0 + 1000 * DAY_MS) == [0]
