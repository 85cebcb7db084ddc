"""The detection cycle's crash seam, armed by tests: ``crash_before(monkeypatch, "before_checkpoint")``
makes the next cycle stop at that point as a crash would (the runner's ``step_hook``)."""

from __future__ import annotations

import pytest

from soc.detection import runner


class InjectedCrash(RuntimeError):
    """What an armed seam raises."""


def crash_before(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Arm the seam: the next time the cycle reaches ``point`` it raises, once."""
    armed = {"left": 1}

    def hook(step: str) -> None:
        if step == point and armed["left"]:
            armed["left"] -= 1
            raise InjectedCrash(point)

    monkeypatch.setattr(runner, "step_hook", hook)
