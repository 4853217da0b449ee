"""Who the current request acts as, for every door that authenticates (HTTP MCP, REST API).

A door that checked a bearer token sets the principal for the request; every tool that picks a
tenant asks :func:`tenant_for`, so a token's tenant is the only tenant its requests can act for,
whatever tenant the caller names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from core.errors import InputError
from tools.access.contracts import Principal

_PRINCIPAL: ContextVar[Principal | None] = ContextVar("data_mash_principal", default=None)


def current_principal() -> Principal | None:
    """The authenticated principal of the running request, or None (CLI, stdio, open loopback)."""
    return _PRINCIPAL.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the block as ``principal`` (tasks started inside inherit it)."""
    token = _PRINCIPAL.set(principal)
    try:
        yield
    finally:
        _PRINCIPAL.reset(token)


def tenant_for(requested: str | None, default: str) -> str:
    """The tenant a request acts for: the token's, refusing any other the caller names."""
    principal = _PRINCIPAL.get()
    if principal is None:
        return requested or default
    if requested and requested != principal.tenant:
        raise InputError(
            f"this token acts for tenant '{principal.tenant}', not '{requested}'",
            where="tenant",
            fix=f"omit tenant or pass '{principal.tenant}'; another tenant needs its own token",
        )
    return principal.tenant
