"""Who is calling, and what they may see and change: tokens, passwords, roles, agency scope.

API tokens carry 256 bits of randomness, so a fast hash (SHA-256) is the right tool for them: a
slow password hash adds nothing against guessing and costs every request. Passwords, chosen by
people, are hashed with argon2id.

Scope: a principal holds a role and a set of agencies ("*" means every agency). Objects outside
the scope are reported as absent (404), never as forbidden, so ids of other agencies leak nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from soc.errors import Forbidden, Invalid, NotFound, SocError
from soc.search import AGENCY_ID_RULE, is_agency_id

TOKEN_PREFIX = "soc_"  # noqa: S105 - a prefix, not a secret
ROLES = ("admin", "analyst", "viewer", "collector")
ALL_AGENCIES = "*"
# Roles allowed to read the triage API, and the subset allowed to change things there.
READERS = frozenset({"admin", "analyst", "viewer"})
WRITERS = frozenset({"admin", "analyst"})
MIN_PASSWORD_LENGTH = 10


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def check_agencies(agencies: list[str]) -> list[str]:
    if not agencies:
        raise Invalid("a principal needs at least one agency, or '*' for all")
    for agency in agencies:  # '*' (every agency) is a scope, never an agency id
        if agency != "*" and not is_agency_id(agency):
            raise Invalid(f"agency {agency!r} is not a valid agency id ({AGENCY_ID_RULE}), nor '*' for all")
    return sorted(set(agencies))


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    agencies: tuple[str, ...]

    @property
    def everywhere(self) -> bool:
        return ALL_AGENCIES in self.agencies

    def sees(self, agency: str | None) -> bool:
        return self.everywhere or (agency is not None and agency in self.agencies)

    def require_reader(self) -> None:
        if self.role not in READERS:
            raise Forbidden(f"role {self.role!r} cannot use the triage API")

    def require_writer(self) -> None:
        self.require_reader()
        if self.role not in WRITERS:
            raise Forbidden(f"role {self.role!r} can read but not change anything")

    def require_admin(self, *, global_scope: bool = False) -> None:
        if self.role != "admin":
            raise Forbidden("only an admin can do this")
        if global_scope and not self.everywhere:
            raise Forbidden("only an admin of every agency ('*') can do this")

    def require_visible(self, agency: str | None, what: str, ident: str) -> None:
        """Absent and out of scope look the same to the caller."""
        if not self.sees(agency):
            raise NotFound(f"{what} {ident!r} does not exist")

    def scope_filter(self, field: str = "organization.id") -> list[dict[str, Any]]:
        """Query clauses that keep a search inside the caller's agencies (none for '*')."""
        if self.everywhere:
            return []
        return [{"terms": {field: list(self.agencies)}}]


class Unauthorized(SocError):
    """No credentials, or credentials that are not (or no longer) valid."""


class PrincipalCache:
    """Token hash -> principal for a few seconds, so a request does not cost 1-2 OpenSearch reads.

    Only valid tokens are kept. An entry is trusted for ``ttl`` seconds: a token revoked (or a user
    disabled or changed) by another process is refused at the latest ``ttl`` seconds later; changes
    made through this process call ``clear`` and take effect at once. Bounded: the least recently
    used entries go first. Thread-safe (the API serves requests from a thread pool).
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            hit = self._entries.get(digest)
            if hit is None:
                return None
            if self.clock() - hit[0] >= self.ttl:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return hit[1]

    def put(self, digest: str, who: Principal) -> None:
        with self._lock:
            self._entries[digest] = (self.clock(), who)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
