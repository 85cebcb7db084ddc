"""Message catalogs of the console: every interface string, in English and Vietnamese.

Catalogs are JSON files beside this module (``i18n/<lang>.json``), read once per process when
first asked for. A key missing from a catalog falls back to English and then to the key itself,
so a missing translation shows up plainly instead of breaking a page; a test keeps both catalogs
complete.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGS = ("en", "vi")
DEFAULT_LANG = "en"
CATALOG_DIR = Path(__file__).with_name("i18n")


@cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick(lang: str | None) -> str:
    """A supported language, or the default."""
    return lang if lang in LANGS else DEFAULT_LANG


def translate(lang: str, key: str, **values: Any) -> str:
    text = catalog(pick(lang)).get(key) or catalog(DEFAULT_LANG).get(key) or key
    return text.format(**values) if values else text


def from_accept_language(header: str | None) -> str:
    """The first supported language a browser asks for (used before anyone has logged in)."""
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG
