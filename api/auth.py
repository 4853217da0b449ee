"""Who is calling: bearer tokens per tenant and role, checked by one dependency.

A token acts for exactly one tenant; every route takes its tenant from the token, never from the
request, so a token of tenant A cannot even name tenant B's objects (they are simply not found).
Roles are ordered: a viewer reads, an operator also runs work, an approver also approves mappings,
overrides gates and rolls waves back.

The dashboard sends the same token as an HttpOnly, SameSite=Strict cookie set by ``/login``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from time import monotonic
from typing import Any, Protocol

from core.errors import ConfigError

COOKIE = "data_mash_token"
#: The token id of open loopback access (no token configured).
LOOPBACK = "loopback"


class Role(StrEnum):
    """What a token may do (each role includes the ones before it)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.APPROVER: 2}


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the token's tenant is the only tenant it acts for."""

    tenant: str
    role: Role
    token_id: str
    label: str | None = None

    @property
    def actor(self) -> str:
        """How audit entries caused by this caller name it: the token (id and label) and role,
        e.g. ``api token 3f2a9c01d4e5 'ci bot' (operator)``; open loopback access is
        ``api loopback (approver)``."""
        if self.token_id == LOOPBACK:
            return f"api loopback ({self.role.value})"
        label = f" '{self.label[:48]}'" if self.label else ""
        return f"api token {self.token_id}{label} ({self.role.value})"

    def may(self, role: Role) -> bool:
        """True if this caller's role includes ``role``."""
        return RANK[self.role] >= RANK[role]


class TokenVerifier(Protocol):
    """Checks a raw bearer token (the token store of ``data-mash token create``)."""

    def verify(self, raw: str) -> Caller | None:
        """The caller a token belongs to, or None when it is unknown or revoked."""
        ...

    def any_active(self) -> bool:
        """True once at least one token exists (auth is then configured)."""
        ...


class NoTokens:
    """A verifier that knows no token: until tokens exist, only open loopback access works."""

    def verify(self, raw: str) -> Caller | None:
        return None

    def any_active(self) -> bool:
        return False


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    bare = host.strip("[]")
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def access_for(host: str, port: int, verifier: TokenVerifier, tenant: str) -> Caller | None:
    """Who unauthenticated requests act as when serving on ``host``; refuse unsafe bindings.

    Once any token exists every request needs one. With none, loopback is open (acting as
    ``tenant`` with every role, like the CLI on this machine); any other address is refused.

    Raises:
        ConfigError: a non-loopback address while no token exists.
    """

    if verifier.any_active():
        return None
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the API on {host}:{port} without authentication: "
            f"{host} is not a loopback address and no API token exists",
            where="--host",
            fix="create one with: data-mash token create --tenant T --role viewer; "
            "or bind to 127.0.0.1",
        )
    return Caller(tenant=tenant, role=Role.APPROVER, token_id=LOOPBACK)


class StoreTokens:
    """The token store of ``data-mash token create`` (tools.access) as the API's verifier: the
    HTTP MCP servers and the API accept the same tokens, hashed at rest in one table.

    A valid token is remembered for ``remember_seconds``, keyed by its SHA-256 (the raw token is
    not kept): the store read was about a sixth of serving a wave's status, paid on every request.
    The price is that a token revoked meanwhile keeps working for at most that long in a running
    server. Unknown and revoked tokens are never remembered: each one is looked up again.
    """

    def __init__(
        self,
        store: Any,
        *,
        remember_seconds: float = 5.0,
        max_remembered: int = 4096,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.store = store
        self._remember = remember_seconds
        self._max = max_remembered
        self._clock = clock
        self._known: dict[str, tuple[float, Caller]] = {}

    def verify(self, raw: str) -> Caller | None:
        key = hashlib.sha256(raw.encode()).hexdigest()
        now = self._clock()
        known = self._known.get(key)
        if known is not None and known[0] > now:
            return known[1]
        principal = self.store.verify(raw)
        if principal is None:
            self._known.pop(key, None)
            return None
        caller = Caller(
            tenant=principal.tenant,
            role=Role(principal.role.value),
            token_id=principal.token_id,
            label=principal.label,
        )
        if self._remember > 0:
            self._remember_caller(key, caller, now)
        return caller

    def _remember_caller(self, key: str, caller: Caller, now: float) -> None:
        if len(self._known) >= self._max:  # bounded: drop the expired, else the oldest
            for stale in [k for k, (until, _) in self._known.items() if until <= now]:
                del self._known[stale]
            if len(self._known) >= self._max:
                del self._known[next(iter(self._known))]
        self._known[key] = (now + self._remember, caller)

    def any_active(self) -> bool:
        return bool(self.store.any_active())
