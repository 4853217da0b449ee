"""The sync MCP server: coexistence of legacy and new (ownership ledger, conflicts, status).

Thin by design: ``tools.sync`` does the work. Reading tools are read-only; resolving a conflict
changes what both systems will hold, so it is marked destructive.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import FastMCP
from pydantic import Field
from sqlalchemy import Engine

from core.settings import Settings
from servers.common import (
    DESTRUCTIVE,
    READ_ONLY,
    CapabilityServer,
    Cursor,
    Limit,
    Tenant,
    run_blocking,
    scoped_tenant,
    user_errors,
)
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import (
    ConflictPage,
    ConflictRecord,
    ConflictState,
    LedgerPage,
    Owner,
    SyncStatus,
)
from tools.sync.ledger import OwnershipLedger

ConflictNumber = Annotated[
    int, Field(ge=1, description="The conflict's number (its id in list_conflicts).")
]


def build_server(settings: Settings) -> FastMCP:
    """Build the sync server."""
    mcp = CapabilityServer(
        name="data-mash-sync",
        instructions=(
            "Keeps legacy and new in step after a wave: sync_status (lag, backlog, conflicts "
            "open), ownership_ledger (the system of record per policy), list_conflicts (changes "
            "both sides made that wait for a person) and resolve_conflict (take legacy, new or a "
            "value; audited)."
        ),
    )

    @cache
    def engine() -> Engine:
        from core.store import open_store

        return open_store(settings)

    def tenant_of(tenant: str | None) -> str:
        return scoped_tenant(settings, tenant)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def sync_status(tenant: Tenant = None) -> SyncStatus:
        """How far legacy and new are apart: lag, backlog, conflicts open, owners."""
        queue = ConflictQueue(engine(), tenant=tenant_of(tenant))
        return await run_blocking(None, queue.status)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def ownership_ledger(
        owner: Annotated[
            Owner | None, Field(description="Only policies owned by legacy, new or dual.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> LedgerPage:
        """The system of record of each policy (legacy, new, dual), since when and why (paged)."""
        ledger = OwnershipLedger(engine(), tenant=tenant_of(tenant))
        return await run_blocking(
            None, lambda: ledger.page(owner=owner, limit=limit, cursor=cursor)
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def list_conflicts(
        state: Annotated[
            Literal["open", "resolved", "all"], Field(description="Which conflicts to list.")
        ] = "open",
        limit: Limit = 50,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> ConflictPage:
        """Changes both sides made to one field, waiting for a person (both values, base)."""
        queue = ConflictQueue(engine(), tenant=tenant_of(tenant))
        wanted = None if state == "all" else ConflictState(state)
        return await run_blocking(
            None, lambda: queue.page(state=wanted, limit=limit, cursor=cursor)
        )

    @mcp.tool(annotations=DESTRUCTIVE)
    @user_errors
    async def resolve_conflict(
        conflict: ConflictNumber,
        take: Annotated[
            Take, Field(description="legacy or new: take that side's value; value: take `value`.")
        ],
        value: Annotated[Any, Field(description="The value to take when take is 'value'.")] = None,
        tenant: Tenant = None,
    ) -> ConflictRecord:
        """Decide a queued conflict (audited); an unknown or resolved one is an error."""
        queue = ConflictQueue(engine(), tenant=tenant_of(tenant))
        return await run_blocking(None, lambda: queue.resolve(conflict, take, value))

    from servers.prompts import register_prompts

    register_prompts(mcp, "sync")
    return mcp


def main() -> None:
    """Serve over stdio with settings from the environment."""
    from servers.common import run_server

    run_server(build_server(Settings()), "stdio")
