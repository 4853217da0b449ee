"""The waves MCP server: plan waves, check their gates, run, watch, roll back and reconcile them.

Thin by design: arguments are validated by their types, the work is done by ``tools.waves``.
``run_wave`` reports progress per batch and stops at the next batch boundary when the client
cancels the request (the wave is then ``cancelled`` and resumes when run again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from pydantic import Field
from sqlalchemy import Engine

from core.ids import AssemblyId, SourceId, WaveId
from core.settings import Settings
from core.store import open_store
from core.targets import target_help
from servers.common import (
    DESTRUCTIVE,
    READ_ONLY,
    WRITES,
    CapabilityServer,
    Tenant,
    run_blocking,
    run_server,
    scoped_tenant,
    user_errors,
)
from servers.prompts import register_prompts
from tools.waves import (
    GateReport,
    Plan,
    PlanCriteria,
    WaveContext,
    WaveStatus,
    check_gates,
    generate_plan,
    get_wave_status,
    override_gate,
    rollback_wave,
    run_wave,
)
from tools.waves import reconcile_wave as reconcile_now
from tools.waves.contracts import GateOverride, WaveReconciliation

R = TypeVar("R")
#: Builds the wave context of a tenant (tests inject fakes).
ContextFactory = Callable[[Engine, Settings, str], WaveContext]


async def _cancellable(ctx: Context, work: Callable[[threading.Event, Any], R]) -> R:
    """Run ``work(cancel, progress)`` in a thread; a client cancel sets ``cancel``."""
    cancel = threading.Event()

    def progress(milestone: str, done: int, total: int | None) -> None:
        try:
            anyio.from_thread.run(ctx.report_progress, done, total, milestone)
        except Exception:  # noqa: BLE001  (progress is best effort; the work is not)
            pass

    try:
        return await anyio.to_thread.run_sync(
            lambda: work(cancel, progress), abandon_on_cancel=True
        )
    except anyio.get_cancelled_exc_class():
        cancel.set()  # the saga stops cleanly at its next batch boundary
        raise


def build_server(
    settings: Settings, *, context_for: ContextFactory = WaveContext.default
) -> FastMCP:
    """Build the waves server.

    Args:
        settings: Settings (store, default tenant, batch size).
        context_for: Builds a tenant's wave context (tests inject fakes).
    """
    mcp = CapabilityServer(
        name="data-mash-waves",
        instructions=(
            "Plans and runs migration waves. plan_waves groups routed policies into waves "
            "(wave 0 = clean candidates); check_gates shows each quality gate; run_wave executes "
            "a wave as a saga that compensates on failure and resumes after a crash; "
            "wave_status, rollback_wave and reconcile_wave inspect and undo."
        ),
    )

    @cache
    def engine() -> Engine:
        return open_store(settings)

    def context(tenant: str | None) -> WaveContext:
        return context_for(engine(), settings, scoped_tenant(settings, tenant))

    @mcp.tool(annotations=WRITES)
    @user_errors
    async def plan_waves(
        target: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                description=f"Migration target, canonical name or alias: {target_help()}.",
            ),
        ],
        source_ids: Annotated[
            list[SourceId],
            Field(
                max_length=100,
                description="Ingested sources whose approved canonical records the plan covers.",
            ),
        ] = [],  # noqa: B006  (the schema's default; never mutated)
        assembly_ids: Annotated[
            list[AssemblyId],
            Field(
                max_length=100,
                description="Instead of sources: approved assemblies with a finished run; "
                "the waves then migrate whole policies.",
            ),
        ] = [],  # noqa: B006
        canonical: Annotated[str, Field(description="Canonical model.")] = "policy_v1",
        criteria: Annotated[
            PlanCriteria | None,
            Field(
                description=("Wave size cap, grouping and gate thresholds; defaults when omitted.")
            ),
        ] = None,
        tenant: Tenant = None,
    ) -> Plan:
        """Plan migration waves for sources or assemblies: wave 0 = clean candidates, then
        grouped waves."""
        wave_context = context(tenant)
        return await run_blocking(
            None,
            lambda: generate_plan(
                wave_context,
                source_ids=source_ids,
                assembly_ids=assembly_ids,
                target=target,
                canonical=canonical,
                criteria=criteria,
            ),
        )

    # Tool names are API; the *_tool function names only avoid shadowing the domain functions.
    @mcp.tool(name="check_gates", annotations=WRITES)
    @user_errors
    async def check_gates_tool(wave_id: WaveId, tenant: Tenant = None) -> GateReport:
        """Check a wave's quality gates; each verdict has failing counts and sample keys."""
        return await run_blocking(None, lambda: check_gates(context(tenant), wave_id))

    @mcp.tool(annotations=WRITES)
    @user_errors
    async def override_wave_gate(
        wave_id: WaveId,
        gate: Annotated[str, Field(min_length=1, max_length=64, description="Gate name.")],
        reason: Annotated[
            str,
            Field(
                min_length=3, max_length=500, description="Why the wave may run anyway (audited)."
            ),
        ],
        tenant: Tenant = None,
    ) -> GateOverride:
        """Let a wave run although one gate fails; the reason goes to the audit log."""
        wave_context = context(tenant)
        done = await run_blocking(
            None, lambda: override_gate(wave_context, wave_id, gate=gate, reason=reason)
        )
        return GateOverride(wave_id=wave_id, gate=gate, reason=reason, entry_id=done["entry_id"])

    @mcp.tool(name="run_wave", annotations=DESTRUCTIVE)
    @user_errors
    async def run_wave_tool(wave_id: WaveId, ctx: Context, tenant: Tenant = None) -> WaveStatus:
        """Run (or resume) a wave: ingest, map, route, migrate, validate; compensates on failure.

        Writes into the target system. Cancelling the request stops at the next batch boundary.
        """
        wave_context = context(tenant)
        return await _cancellable(
            ctx,
            lambda cancel, progress: run_wave(
                wave_context, wave_id, cancel=cancel, progress=progress
            ),
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def wave_status(wave_id: WaveId, tenant: Tenant = None) -> WaveStatus:
        """A wave's status, per-milestone state and counts (migrated, failed)."""
        wave_context = context(tenant)
        return await run_blocking(None, lambda: get_wave_status(wave_context, wave_id))

    @mcp.tool(name="rollback_wave", annotations=DESTRUCTIVE)
    @user_errors
    async def rollback_wave_tool(
        wave_id: WaveId,
        ctx: Context,
        tenant: Tenant = None,
    ) -> WaveStatus:
        """Undo a wave: compensate its milestones newest first (deletes its target writes).

        Refused while another process runs the wave; finishes a rollback that was interrupted.
        """
        wave_context = context(tenant)
        return await _cancellable(
            ctx,
            lambda cancel, progress: rollback_wave(wave_context, wave_id, progress=progress),
        )

    @mcp.tool(annotations=READ_ONLY)
    @user_errors
    async def reconcile_wave(wave_id: WaveId, tenant: Tenant = None) -> WaveReconciliation:
        """Reconcile a wave's canonical records against what its target holds (read-only)."""
        report = await run_blocking(None, lambda: reconcile_now(context(tenant), wave_id))
        return WaveReconciliation.model_validate(
            {"wave_id": wave_id, "passed": report["passed"], "report": report}
        )

    register_prompts(mcp, "waves")
    return mcp


def main() -> None:
    """Serve over stdio with settings from the environment."""
    run_server(build_server(Settings()), "stdio")
