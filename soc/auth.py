"""API tokens: random secrets shown once; only their SHA-256 is stored.

A token has 256 bits of randomness, so a fast hash is the right tool for it (a slow password hash
adds nothing against guessing and costs every request). Passwords are another matter.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "soc_"  # noqa: S105 - a prefix, not a secret
ROLES = ("admin", "analyst", "viewer", "collector")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
