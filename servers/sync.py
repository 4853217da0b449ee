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

import tools.sync.service as sync_service
from core.ids import PolicyId, SourceId, WaveId
from core.settings import Settings
from core.store import open_store
from servers.common import (
    DESTRUCTIVE,
    IDEMPOTENT_WRITES,
    READ_ONLY,
    WRITES,
    CapabilityServer,
    Cursor,
    Limit,
    Tenant,
    run_blocking,
    run_server,
    scoped_tenant,
    user_errors,
)
from servers.prompts import register_prompts
from tools.sync.adopt import keep_in_step
from tools.sync.capture import FEED_NAME_MAX, LegacyCapture
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import (
    CaptureResult,
    ConflictPage,
    ConflictRecord,
    ConflictState,
    LedgerPage,
    Owner,
    PolicyWrite,
    SyncRunReport,
    SyncStatus,
    WaveAdoption,
)
from tools.sync.ledger import OwnershipLedger
from tools.sync.write import SelectiveWriter

ConflictNumber = Annotated[
    int, Field(ge=1, description="The conflict's number (its id in list_conflicts).")
]


def build_server(settings: Settings) -> FastMCP:
    """Build the sync server."""
    mcp = CapabilityServer(
        name="data-mash-sync",
        instructions=(
            "Keeps legacy and new in step after a wave: adopt_wave (after a wave: its owner "
            "and what it migrated), capture_extract (what a later legacy extract changed), "
            "write_policy (routed by the ownership ledger: new -> the platform with its outbox "
            "event, legacy -> a correction for the legacy loader, dual -> both through the "
            "outbox), run_sync (apply changes field by field, deliver merged values), "
            "sync_status (lag, backlog, conflicts by type), ownership_ledger (the system of "
            "record per policy), list_conflicts (changes both sides made that wait for a "
            "person) and resolve_conflict (take legacy, new or a value; audited)."
        ),
    )

    @cache
    def engine() -> Engine:
        return open_store(settings)

    def tenant_of(tenant: str | None) -> str:
        return scoped_tenant(settings, tenant)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def sync_status(tenant: Tenant = None) -> SyncStatus:
        """How far legacy and new are apart: lag, backlog, conflicts by type, owners."""
        scoped = tenant_of(tenant)
        return await run_blocking(None, lambda: sync_service.sync_status(engine(), tenant=scoped))

    @mcp.tool(annotations=WRITES)
    @user_errors
    async def run_sync(tenant: Tenant = None) -> SyncRunReport:
        """Apply captured changes field by field and deliver merged values to both sides."""
        scoped = tenant_of(tenant)
        return await run_blocking(
            None, lambda: sync_service.run_sync(engine(), settings, tenant=scoped)
        )

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def capture_extract(
        source_id: SourceId,
        feed: Annotated[
            str,
            Field(min_length=1, max_length=FEED_NAME_MAX, description="The feed (legacy system)."),
        ],
        columns: Annotated[
            dict[str, str] | None,
            Field(description="Extract column -> canonical path; a feed's first capture only."),
        ] = None,
        baseline: Annotated[
            bool,
            Field(
                description="A feed's first capture only: record the extract as the starting "
                "snapshot without an insert per policy."
            ),
        ] = False,
        tenant: Tenant = None,
    ) -> CaptureResult:
        """Record what a later legacy extract changed (inserts, updates, deletes per policy)."""
        capture = LegacyCapture(engine(), settings, tenant=tenant_of(tenant))
        return await run_blocking(
            None, lambda: capture.capture(feed, source_id, columns, baseline=baseline)
        )

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def write_policy(
        policy_id: PolicyId,
        document: Annotated[
            dict[str, Any], Field(description="The canonical policy (nested or dotted paths).")
        ],
        tenant: Tenant = None,
    ) -> PolicyWrite:
        """Write a policy where its owner says: new (platform + outbox), legacy, or both."""
        writer = SelectiveWriter(engine(), settings, tenant=tenant_of(tenant))
        return await run_blocking(None, lambda: writer.write_policy(policy_id, document))

    @mcp.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def adopt_wave(
        wave_id: WaveId,
        tenant: Tenant = None,
    ) -> WaveAdoption:
        """After a wave, keep in step: record its policies' owner, take what it migrated."""
        scoped = tenant_of(tenant)
        return await run_blocking(
            None, lambda: keep_in_step(engine(), settings, wave_id, tenant=scoped)
        )

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

    register_prompts(mcp, "sync")
    return mcp


def main() -> None:
    """Serve over stdio with settings from the environment."""
    run_server(build_server(Settings()), "stdio")
