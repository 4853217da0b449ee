"""What every data-mash MCP server shares: user errors as tool errors, progress from threads,
paging, and the choice of transport (kept in one place so a move to mcp 2.x is cheap)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from core.errors import DataMashError

P = ParamSpec("P")
R = TypeVar("R")

Tenant = Annotated[str | None, Field(description="Tenant to act for; default from settings.")]
Limit = Annotated[int, Field(ge=1, le=200, description="Maximum number of items to return.")]
Cursor = Annotated[
    str | None, Field(description="Opaque cursor from a previous page's next_cursor.")
]


class Page(BaseModel):
    """Paging fields every long list carries."""

    next_cursor: str | None = Field(None, description="Pass as cursor to get the next page.")
    total: int = Field(description="How many items there are in all.")
    note: str | None = Field(None, description="How to get the rest, when there is more.")


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


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise DataMashError as ToolError so the client sees one clear message (isError)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DataMashError as exc:
            raise ToolError(exc.message) from None

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
    server: FastMCP, transport: Transport, *, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Serve over stdio (IDE assistants) or streamable HTTP at http://HOST:PORT/mcp."""
    if transport == "stdio":
        server.run("stdio")
        return
    server.settings.host = host
    server.settings.port = port
    server.run("streamable-http")


class ServerState:
    """What a server's tools share: settings, and the store opened on first use."""

    def __init__(self, settings: Any) -> None:
        from core.paths import allowed_roots

        self.settings = settings
        self.roots = allowed_roots(settings.allowed_roots, settings.home)
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from core.store import open_store

            self._engine = open_store(self.settings)
        return self._engine

    def tenant(self, tenant: str | None) -> str:
        return tenant or self.settings.tenant

    def confine(self, path: str) -> Any:
        from core.paths import confine

        return confine(path, self.roots)
