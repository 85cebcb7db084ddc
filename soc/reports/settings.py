"""Report settings: declared data with defaults, overridable by SOC_REPORT_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from soc.errors import ConfigError

FORMATS = ("html", "pdf", "json", "csv")
LANGS = ("vi", "en")


@dataclass(frozen=True)
class ReportSettings:
    out_dir: Path = field(default_factory=lambda: Path("var/reports"))
    # When the weekly job fires (cron fields, in ``timezone``); the report covers the ISO week before.
    day_of_week: str = "mon"
    hour: int = 7
    minute: int = 0
    timezone: str = "Asia/Ho_Chi_Minh"
    langs: tuple[str, ...] = LANGS
    formats: tuple[str, ...] = FORMATS
    top_n: int = 10
    notable_limit: int = 20
    changes_limit: int = 100
    # A source's hour is "degraded" when it holds fewer events than this share of the source's
    # median hour in the week (and more than none: an empty hour is "silent").
    degraded_ratio: float = 0.25
    # Optional delivery.
    webhook_url: str = ""
    webhook_secret: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = "soc-reports@localhost"
    mail_to: tuple[str, ...] = ()


def _split(raw: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in raw.split(",") if x.strip())


def load(env: dict[str, str] | None = None, base: ReportSettings | None = None) -> ReportSettings:
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    for f in fields(ReportSettings):
        name = "SOC_REPORT_" + f.name.upper()
        raw = env.get(name)
        if raw is None:
            continue
        try:
            if f.name == "out_dir":
                values[f.name] = Path(raw)
            elif f.name in ("langs", "formats", "mail_to"):
                values[f.name] = _split(raw)
            elif f.name in ("hour", "minute", "top_n", "notable_limit", "changes_limit", "smtp_port"):
                values[f.name] = int(raw)
            elif f.name == "degraded_ratio":
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        except ValueError:
            raise ConfigError(f"{name} has an invalid value {raw!r}") from None
    out = replace(base or ReportSettings(), **values)  # type: ignore[arg-type]
    check(out)
    return out


def check(rs: ReportSettings) -> None:
    bad_langs = [x for x in rs.langs if x not in LANGS]
    bad_formats = [x for x in rs.formats if x not in FORMATS]
    if bad_langs:
        raise ConfigError(f"SOC_REPORT_LANGS: unknown language {bad_langs[0]!r} (known: {', '.join(LANGS)})")
    if bad_formats:
        raise ConfigError(f"SOC_REPORT_FORMATS: unknown format {bad_formats[0]!r} (known: {', '.join(FORMATS)})")
    if not 0 <= rs.hour <= 23 or not 0 <= rs.minute <= 59:
        raise ConfigError("SOC_REPORT_HOUR / SOC_REPORT_MINUTE: not a time of day")
    if not 0 < rs.degraded_ratio < 1:
        raise ConfigError("SOC_REPORT_DEGRADED_RATIO must be between 0 and 1")
