"""Threat-intelligence settings: declared data with defaults, overridable by SOC_INTEL_* / SOC_GEOIP_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from soc.errors import ConfigError


@dataclass(frozen=True)
class IntelSettings:
    retro_days: float = 30.0  # a newly imported indicator is searched for once over this many past days
    expires_days: float = 90.0  # validity of an imported indicator that carries no end of its own
    max_hits: int = 500  # events turned into alerts per indicator per window (or per retro-hunt)
    # MaxMind-format databases (City and ASN, or one with both) read for address enrichment; none: no geo
    geoip_databases: tuple[Path, ...] = ()


def load(env: dict[str, str] | None = None) -> IntelSettings:
    env = dict(os.environ if env is None else env)
    base = IntelSettings()
    try:
        return IntelSettings(
            retro_days=float(env.get("SOC_INTEL_RETRO_DAYS", base.retro_days)),
            expires_days=float(env.get("SOC_INTEL_EXPIRES_DAYS", base.expires_days)),
            max_hits=int(env.get("SOC_INTEL_MAX_HITS", base.max_hits)),
            geoip_databases=tuple(Path(p.strip()) for p in env.get("SOC_GEOIP_DATABASES", "").split(",") if p.strip()))
    except ValueError as exc:
        raise ConfigError(f"SOC_INTEL_* setting: {exc}") from None
