"""Dependencies every route declares once, as ``Annotated`` aliases (the FastAPI template's shape).

``CallerDep`` authenticates the request; ``Viewer``/``Operator``/``Approver`` also check the role;
``TenantDep`` is the caller's tenant (never taken from the request); ``WavesDep`` is the tenant's
:class:`~tools.waves.WaveContext`. Path ids share one pattern with ``core.ids``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine
from structlog.contextvars import bind_contextvars

from api.auth import COOKIE, Caller, Role, TokenVerifier
from api.problems import AuthError, ForbiddenError
from core.ids import ID_MAX_LENGTH, ID_PATTERN
from core.settings import Settings
from core.store import open_store
from tools.waves import WaveContext

#: Builds the wave context of a tenant (tests may inject fakes, as for the MCP servers).
ContextFactory = Callable[[Engine, Settings, str], WaveContext]


@dataclass
class ApiConfig:
    """What the app was built with; kept on ``app.state.config``."""

    settings: Settings
    verifier: TokenVerifier
    #: Who an unauthenticated request acts as; only set for loopback with no token configured.
    open_as: Caller | None = None
    max_body_bytes: int = 1 << 20
    context_for: ContextFactory = WaveContext.default
    _engine: Engine | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def engine(self) -> Engine:
        """The store, opened once per app (its pool serves every request)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = open_store(self.settings)
        return self._engine

    def context_of(self, tenant: str) -> WaveContext:
        """A fresh wave context of ``tenant`` (cheap: closures over the shared engine; not shared
        between requests, since a context keeps the targets its operation opened)."""
        return self.context_for(self.engine, self.settings, tenant)


# Thread hops. FastAPI runs a plain ``def`` dependency in the thread pool, and under load a hop
# costs far more than a point read: the worker thread waits for the GIL the busy event loop
# holds (up to the 5 ms switch interval per wake-up). So every dependency below is ``async def``
# and the hot point reads (a wave's status, locating a policy, one audit page: a few indexed
# queries each) run on the loop; scans, checks and writes still go to a thread (``run_sync``).
# Solving a dependency costs FastAPI tens of microseconds each, so the ones every request solves
# read the config straight from the request instead of depending on ``ConfigDep`` in turn.


def config_of(request: Request) -> ApiConfig:
    """The app's :class:`ApiConfig` (pages call this directly)."""
    config: ApiConfig = request.app.state.config
    return config


async def get_config(request: Request) -> ApiConfig:
    return config_of(request)


ConfigDep = Annotated[ApiConfig, Depends(get_config)]


async def get_engine(request: Request) -> Engine:
    return config_of(request).engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def bearer_of(request: Request) -> str | None:
    """The raw token of a request: ``Authorization: Bearer`` first, else the dashboard cookie."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        return raw.strip()
    return request.cookies.get(COOKIE) or None


def authenticate(request: Request, config: ApiConfig) -> Caller:
    """The authenticated caller, or 401 (open loopback access acts as the configured caller).

    Binds the caller as the actor of the request's context, so every audit entry the request
    causes (a mapping edit, a wave run started here) names the token and its role.
    """
    raw = bearer_of(request)
    if raw is not None:
        caller = config.verifier.verify(raw)
        if caller is None:
            raise AuthError("the token is not valid or was revoked", fix="use a current token")
    elif config.open_as is not None:
        caller = config.open_as
    else:
        raise AuthError(
            "no API token",
            fix="send 'Authorization: Bearer <token>'; create one with: "
            "data-mash token create --tenant T --role viewer",
        )
    bind_contextvars(actor=caller.actor)
    return caller


#: Where a request keeps its authenticated caller (in the ASGI scope: one per request).
_CALLER = "data_mash.caller"


def caller_of(request: Request) -> Caller:
    """:func:`authenticate`, once per request: the first dependency that needs the caller
    authenticates, the others read it back. Every dependency below takes only the request
    (no sub-dependency): FastAPI solving a dependency tree costs more per level than the
    point reads it serves (measured: ~0.1 ms per solved dependency)."""
    caller: Caller | None = request.scope.get(_CALLER)
    if caller is None:
        caller = authenticate(request, config_of(request))
        request.scope[_CALLER] = caller
    return caller


async def current_caller(request: Request) -> Caller:
    """:func:`caller_of` as a dependency. It runs on the event loop, in the request's own
    context, so the actor it binds reaches the route and the threads the route starts (a
    dependency run in the thread pool would bind it in a copy that is then thrown away)."""
    return caller_of(request)


CallerDep = Annotated[Caller, Depends(current_caller)]


def require(role: Role) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that lets only callers whose role includes ``role`` through (else 403)."""

    async def check(request: Request) -> Caller:
        caller = caller_of(request)
        if not caller.may(role):
            raise ForbiddenError(
                f"a {caller.role.value} token may not do this; it needs the {role.value} role",
                fix=f"use a token created with --role {role.value}",
            )
        return caller

    return check


Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
Approver = Annotated[Caller, Depends(require(Role.APPROVER))]


async def tenant_of(request: Request) -> str:
    return caller_of(request).tenant


TenantDep = Annotated[str, Depends(tenant_of)]


async def waves_of(request: Request) -> WaveContext:
    return config_of(request).context_of(caller_of(request).tenant)


WavesDep = Annotated[WaveContext, Depends(waves_of)]


def _id(what: str) -> Any:
    return Path(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description=f"{what} id.")


SourcePath = Annotated[str, _id("Source")]
MappingPath = Annotated[str, _id("Mapping")]
PlanPath = Annotated[str, _id("Plan")]
WavePath = Annotated[str, _id("Wave")]
PolicyPath = Annotated[str, _id("Policy")]
AssemblyPath = Annotated[str, _id("Assembly")]
JobPath = Annotated[str, Path(pattern=r"^job-[0-9a-f]{12}$", description="Job id.")]

Limit = Annotated[int, Query(ge=1, le=200, description="Maximum number of items to return.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=12,
        pattern=r"^[0-9]+$",
        description="Opaque cursor from a previous page's next_cursor.",
    ),
]
