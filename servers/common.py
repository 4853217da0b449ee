"""What every data-mash MCP server shares: user errors as tool errors, progress from threads,
paging, and the choice of transport (kept in one place so a move to mcp 2.x is cheap)."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from core.errors import DataMashError, InputError
from core.ids import TenantId, check_tenant
from core.logs import correlation, get_logger
from core.metrics import TOOL_CALLS, TOOL_SECONDS, count, enabled
from core.paging import Page
from core.paths import allowed_roots, confine
from core.settings import Settings
from core.store import open_store
from core.tracing import span
from tools.access import current_principal, tenant_for

_log = get_logger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

Tenant = Annotated[
    TenantId | None,
    Field(
        description="Tenant to act for; default from settings. A server started for one tenant "
        "(--tenant, DATA_MASH_TENANT) serves only that tenant."
    ),
]
Limit = Annotated[int, Field(ge=1, le=200, description="Maximum number of items to return.")]
Cursor = Annotated[
    str | None, Field(description="Opaque cursor from a previous page's next_cursor.")
]


__all__ = ["Page"]  # the paging contract, re-exported for the servers' page_bounds callers

# The four kinds of tool every server has, defined once (MCP clients use them to decide what
# to confirm with the user). openWorldHint is False except where a tool writes into a target
# system outside data-mash's own workspace.
READ_ONLY = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
"""Reads only; safe to call any number of times."""
WRITES = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False
)
"""Adds state (a new draft, a new plan); calling again adds again."""
IDEMPOTENT_WRITES = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
"""Writes, but the same call twice leaves the same state (keyed by content or id)."""
DESTRUCTIVE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True
)
"""Writes into (or deletes from) a target system; resumable, so a repeat is safe."""
PRESETS = {
    "READ_ONLY": READ_ONLY,
    "WRITES": WRITES,
    "IDEMPOTENT_WRITES": IDEMPOTENT_WRITES,
    "DESTRUCTIVE": DESTRUCTIVE,
}


def page_bounds(cursor: str | None, limit: int, total: int) -> tuple[int, int, Page]:
    """Start/end indices for a page, and the paging fields to return with it."""
    try:
        start = int(cursor) if cursor else 0
    except ValueError:
        raise ToolError(f"cursor '{cursor}' is not one this server handed out") from None
    start = max(0, min(start, total))
    end = min(total, start + limit)
    more = end < total
    return (
        start,
        end,
        Page(
            next_cursor=str(end) if more else None,
            total=total,
            note=f"{total - end} more; call again with cursor='{end}'" if more else None,
        ),
    )


class CapabilityServer(FastMCP):
    """A FastMCP server whose argument errors read like every other data-mash error.

    FastMCP reports a bad argument as pydantic's multi-line dump with documentation URLs
    ("1 validation error for sample_recordsArguments ..."). Here the arguments are checked
    first, against the same model FastMCP uses, and a failure is one line naming the argument,
    what is wrong with it and how to fix it (an isError result, like any ToolError).
    """

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            meta = tool.fn_metadata
            try:
                meta.arg_model.model_validate(meta.pre_parse_json(arguments))
            except ValidationError as exc:
                raise ToolError(argument_error(name, exc)) from None
        return await super().call_tool(name, arguments)


def argument_error(tool: str, exc: ValidationError) -> str:
    """One line for the argument errors of a tool call: which argument, what, how to fix."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        if error["type"] == "missing":
            problems.append(f"argument '{where}' is required: pass it")
            continue
        got = error.get("input")
        shown = repr(got) if len(repr(got)) <= 40 else repr(got)[:37] + "..."
        what = error["msg"][0].lower() + error["msg"][1:]
        problems.append(f"argument '{where}' is {shown}: {what}")
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{tool}: " + "; ".join(problems[:3]) + more + "; fix it and call again"


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise DataMashError as ToolError so the client sees one clear message (isError).

    Each call also gets a correlation id, a span, a log line and its metrics.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # One correlation id per tool call: on its log lines and on the audit entries it writes.
        with (
            correlation(tool=fn.__name__) as correlation_id,
            span(f"mcp.tool {fn.__name__}", tool=fn.__name__, correlation_id=correlation_id),
        ):
            started = time.perf_counter()
            outcome = "ok"
            try:
                result = await fn(*args, **kwargs)
            except DataMashError as exc:
                outcome = "refused"
                _log.info("tool_refused", error=exc.message)
                raise ToolError(exc.message) from None
            except Exception as exc:
                outcome = "error"
                _log.error("tool_failed", error=f"{type(exc).__name__}: {exc}")
                raise
            finally:
                count(TOOL_CALLS, tool=fn.__name__, outcome=outcome)
                if enabled():
                    TOOL_SECONDS.labels(fn.__name__).observe(time.perf_counter() - started)
            _log.info("tool_called")
            return result

    # Resolved annotations, so FastMCP builds the schema from the real types of the tool module.
    wrapper.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return wrapper


async def run_blocking(
    ctx: Context | None, work: Callable[..., R], *, with_progress: bool = False
) -> R:
    """Run blocking domain work in a thread; forward its progress to the client if asked.

    ``work`` takes a ``progress(done, total)`` callback when ``with_progress`` is set.
    """
    if not with_progress:
        return await anyio.to_thread.run_sync(work)

    def progress(done: float, total: float) -> None:
        if ctx is not None:
            try:
                anyio.from_thread.run(ctx.report_progress, done, total)
            except Exception:  # noqa: BLE001  (progress is best effort; the work is not)
                pass

    return await anyio.to_thread.run_sync(lambda: work(progress))


Transport = Literal["stdio", "http"]


def run_server(
    server: FastMCP,
    transport: Transport,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Any = None,
    require_token: bool = False,
) -> None:
    """Serve over stdio (IDE assistants) or streamable HTTP at http://HOST:PORT/mcp.

    Over HTTP off loopback (or with ``require_token``) every request needs a bearer token and the
    server refuses to start while none exists (see servers/http.py).
    """
    if transport == "stdio":
        server.run("stdio")
        return
    # Imported here: the HTTP transport (uvicorn, the health checks with Alembic and the wave
    # context) loads only when a server is served over HTTP, never for stdio.
    from servers.http import serve_http  # noqa: PLC0415

    if settings is None:
        settings = Settings()
    serve_http(server, settings, host=host, port=port, require_token=require_token)


def scoped_tenant(settings: Any, tenant: str | None) -> str:
    """The tenant a call acts for, refused unless the server may serve it.

    A server whose tenant was set when it started (``--tenant``, ``DATA_MASH_TENANT`` or
    ``data-mash.yaml``) serves only that tenant; otherwise a call may name any valid tenant.
    Resource templates (``profile://{tenant}/...``) come through here too, so the same check
    guards every door. Over authenticated HTTP the token's tenant is the only one a call may act
    for, whatever tenant it names (tools.access.tenant_for).
    """
    if current_principal() is not None:
        tenant = tenant_for(tenant, settings.tenant)
    if tenant is None:
        return settings.tenant
    check_tenant(tenant)
    if "tenant" in settings.model_fields_set and tenant != settings.tenant:
        raise InputError(
            f"this server serves tenant '{settings.tenant}' only, not '{tenant}'",
            where="tenant",
            fix=f"omit tenant, or start a server for it: data-mash serve NAME --tenant {tenant}",
        )
    return tenant


def server_roots(settings: Any) -> list[Any]:
    """The folders a server may read files from: the workspace and the folders the user named."""
    return allowed_roots(settings.allowed_roots, settings.home)


class ServerState:
    """What a server's tools share: settings, and the store opened on first use."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.roots = server_roots(settings)
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = open_store(self.settings)
        return self._engine

    def tenant(self, tenant: str | None) -> str:
        """The tenant a call acts for (see scoped_tenant)."""
        return scoped_tenant(self.settings, tenant)

    def confine(self, path: str) -> Any:
        return confine(path, self.roots)
