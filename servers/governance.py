"""The governance MCP server: where a policy is, how it got there, and the audit log.

Thin by design: the tracker (``tools.waves.tracker``) and the audit log (``tools.audit``) do the
work; long lists are paged with ``limit`` and ``cursor``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated

from mcp.server.fastmcp import FastMCP
from pydantic import Field
from sqlalchemy import Engine

from core.errors import InputError, NotFoundError
from core.ids import PolicyId
from core.settings import Settings
from core.store import open_store
from core.timeparse import parse_time
from servers.common import (
    READ_ONLY,
    CapabilityServer,
    Cursor,
    Limit,
    Tenant,
    page_bounds,
    run_blocking,
    run_server,
    scoped_tenant,
    user_errors,
)
from servers.prompts import register_prompts
from tools.audit import AuditLog, PolicyLocations
from tools.audit.contracts import AuditPage, PolicyMoves
from tools.waves import PolicyReport, WaveContext, lineage, locate_policy
from tools.waves.tracker import PolicyLineage

ContextFactory = Callable[[Engine, Settings, str], WaveContext]


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    return parse_time(value, option=name)


def build_server(
    settings: Settings, *, context_for: ContextFactory = WaveContext.default
) -> FastMCP:
    """Build the governance server (``context_for``: tests inject fakes)."""
    mcp = CapabilityServer(
        name="data-mash-governance",
        instructions=(
            "Answers 'where is policy X and how did it get there?': locate_policy, policy_history, "
            "lineage; and reads the write-ahead audit log: audit_trail (one policy), replay_log "
            "(by namespace and time)."
        ),
    )

    @cache
    def engine() -> Engine:
        return open_store(settings)

    def tenant_of(tenant: str | None) -> str:
        return scoped_tenant(settings, tenant)

    # Tool names are API; *_tool function names only avoid shadowing the domain functions.
    @mcp.tool(name="locate_policy", annotations=READ_ONLY)
    @user_errors
    async def locate_policy_tool(
        policy_id: PolicyId,
        reconcile: Annotated[
            bool, Field(description=("Also compare the target's copy with the canonical record."))
        ] = True,
        tenant: Tenant = None,
    ) -> PolicyReport:
        """Where a policy lives now, its moves, waves, one-policy reconciliation and trail."""
        who = tenant_of(tenant)
        return await run_blocking(
            None,
            lambda: locate_policy(
                context_for(engine(), settings, who), policy_id, reconcile=reconcile
            ),
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def policy_history(policy_id: PolicyId, tenant: Tenant = None) -> PolicyMoves:
        """Every move of a policy between systems (wave, rule, reason, time), oldest first."""
        locations = PolicyLocations(engine(), tenant=tenant_of(tenant))
        location, moves = await run_blocking(
            None, lambda: (locations.locate(policy_id), locations.history(policy_id))
        )
        if location is None and not moves:
            raise NotFoundError(
                f"policy '{policy_id}' has never been placed in a system",
                fix="check the id, or route its source first",
            )
        return PolicyMoves(policy_id=policy_id, location=location, moves=moves)

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def audit_trail(
        policy_id: PolicyId, limit: Limit = 50, cursor: Cursor = None, tenant: Tenant = None
    ) -> AuditPage:
        """Every audited operation that touched one policy, oldest first (paged)."""
        log = AuditLog(engine(), tenant=tenant_of(tenant))
        entries = await run_blocking(None, lambda: log.trail(policy_id))
        start, end, page = page_bounds(cursor, limit, len(entries))
        shown = entries[start:end]
        return AuditPage(
            entries=shown, incomplete=sum(e.incomplete for e in shown), **page.model_dump()
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def replay_log(
        namespace: Annotated[
            str | None,
            Field(
                max_length=64,
                description=("Only this namespace: content, canonical, routing, waves..."),
            ),
        ] = None,
        since: Annotated[
            str | None, Field(description=("From: ISO 8601 time or an age such as 2h, 7d."))
        ] = None,
        until: Annotated[str | None, Field(description="Up to (same forms as since).")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> AuditPage:
        """Replay the write-ahead audit log in commit order (read-only; flags crashed entries)."""
        start_at, end_at = _time(since, "since"), _time(until, "until")
        if start_at and end_at and start_at > end_at:
            raise InputError(f"since {since} is after until {until}", fix="swap them")
        log = AuditLog(engine(), tenant=tenant_of(tenant))
        try:
            offset = int(cursor) if cursor else 0
        except ValueError:
            raise InputError(f"cursor '{cursor}' is not one this server handed out") from None

        entries, total = await run_blocking(
            None,
            lambda: log.replay_page(namespace, start_at, end_at, offset=offset, limit=limit),
        )
        _, end, page = page_bounds(str(offset), limit, total)
        return AuditPage(
            entries=entries, incomplete=sum(e.incomplete for e in entries), **page.model_dump()
        )

    @mcp.tool(name="lineage", annotations=READ_ONLY)
    @user_errors
    async def lineage_tool(policy_id: PolicyId, tenant: Tenant = None) -> PolicyLineage:
        """A policy's path: source file, source, mapping version, canonical, rule, wave, target."""
        who = tenant_of(tenant)
        steps = await run_blocking(
            None, lambda: lineage(context_for(engine(), settings, who), policy_id)
        )
        return PolicyLineage(policy_id=policy_id, steps=steps)

    register_prompts(mcp, "governance")
    return mcp


def main() -> None:
    """Serve over stdio with settings from the environment."""
    run_server(build_server(Settings()), "stdio")
