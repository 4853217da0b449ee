"""Waves: list, status, gates (check, override), run and roll back as jobs, reconciliation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from anyio.to_thread import run_sync
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.deps import Approver, Cursor, Limit, Operator, Viewer, WavePath, WavesDep
from api.jobs import Job, JobRegistry, Progress
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from core.paging import Page
from tools.waves import (
    GateReport,
    WaveContext,
    WaveStatus,
    check_gates,
    get_wave_status,
    latest_gate_report,
    override_gate,
    reconcile_wave,
    rollback_wave,
    run_wave,
)
from tools.waves.contracts import GateOverride, WaveReconciliation
from tools.waves.listing import list_waves as listing
from tools.waves.statuses import WaveState

router = APIRouter(prefix="/waves", tags=["waves"], responses=PROBLEM_RESPONSES)
JOB_RESPONSES = {**PROBLEM_RESPONSES, 409: PROBLEM_RESPONSES[400] | {"description": "Conflict"}}


class WaveList(Page):
    """Waves of the tenant, one page."""

    waves: list[WaveStatus]


class OverrideRequest(BaseModel):
    """Let a wave run although one gate fails; the reason goes to the audit log."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


def jobs_of(request: Request) -> JobRegistry:
    registry: JobRegistry = request.app.state.jobs
    return registry


async def _start_job(
    request: Request,
    caller: Caller,
    waves: WaveContext,
    wave_id: str,
    kind: str,
    work: Callable[[Progress], BaseModel],
) -> Job:
    """Start ``work`` as the wave's job (404 for an unknown wave, 409 while one is active)."""
    registry = jobs_of(request)

    def start() -> Job:
        get_wave_status(waves, wave_id)
        return registry.start(caller.tenant, kind, wave_id, work)

    return await run_sync(start)


@router.get("", response_model=WaveList)
async def list_waves(
    _: Viewer,
    waves: WavesDep,
    plan_id: Annotated[str | None, Query(max_length=64, description="Only this plan.")] = None,
    status: Annotated[WaveState | None, Query(description="Only waves in this status.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WaveList:
    """Every wave of the caller's tenant in plan order (paged)."""
    found = await run_sync(
        lambda: listing(waves, plan_id=plan_id, status=status.value if status else None)
    )
    shown, page = page_of(found, limit, cursor)
    return WaveList(waves=shown, **page.model_dump())


@router.get("/{wave_id}", response_model=WaveStatus)
async def wave_status(_: Viewer, waves: WavesDep, wave_id: WavePath) -> WaveStatus:
    """A wave's status, per-milestone state and counts (migrated, failed)."""
    return get_wave_status(waves, wave_id)  # one indexed read: on the loop (see api.deps)


@router.get("/{wave_id}/gates", response_model=GateReport)
async def wave_gates(_: Viewer, waves: WavesDep, wave_id: WavePath) -> GateReport:
    """The latest gate verdicts of a wave (checked now if they never were)."""

    def work() -> GateReport:
        get_wave_status(waves, wave_id)  # not found before anything is checked
        return latest_gate_report(waves, wave_id) or check_gates(waves, wave_id)

    return await run_sync(work)


@router.post("/{wave_id}/gates/check", response_model=GateReport)
async def recheck_gates(_: Operator, waves: WavesDep, wave_id: WavePath) -> GateReport:
    """Check a wave's quality gates now (audited)."""
    return await run_sync(lambda: check_gates(waves, wave_id))


@router.post("/{wave_id}/gates/{gate}/override", response_model=GateOverride)
async def override(
    _: Approver,
    waves: WavesDep,
    wave_id: WavePath,
    gate: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Gate name.")],
    body: OverrideRequest,
) -> GateOverride:
    """Let a wave run although ``gate`` fails (approver role; the reason is audited)."""
    done = await run_sync(lambda: override_gate(waves, wave_id, gate=gate, reason=body.reason))
    return GateOverride(wave_id=wave_id, gate=gate, reason=body.reason, entry_id=done["entry_id"])


@router.post("/{wave_id}/run", response_model=Job, status_code=202, responses=JOB_RESPONSES)
async def run(caller: Operator, waves: WavesDep, wave_id: WavePath, request: Request) -> Job:
    """Run (or resume) a wave as a job; watch ``/jobs/{job_id}`` or its ``/events`` stream."""
    return await _start_job(
        request,
        caller,
        waves,
        wave_id,
        "run",
        lambda progress: run_wave(waves, wave_id, progress=progress),
    )


@router.post("/{wave_id}/rollback", response_model=Job, status_code=202, responses=JOB_RESPONSES)
async def rollback(
    caller: Approver,
    waves: WavesDep,
    wave_id: WavePath,
    request: Request,
) -> Job:
    """Undo a wave as a job (approver role): compensate its milestones newest first.

    A run still going holds the wave's lease, so a rollback waits for nothing: it is refused
    while the run lives and takes over once its process is gone.
    """
    return await _start_job(
        request,
        caller,
        waves,
        wave_id,
        "rollback",
        lambda progress: rollback_wave(waves, wave_id, progress=progress),
    )


@router.get("/{wave_id}/reconciliation", response_model=WaveReconciliation)
async def reconciliation(_: Viewer, waves: WavesDep, wave_id: WavePath) -> WaveReconciliation:
    """Reconcile a wave's canonical records against what its target holds (read-only)."""
    report = await run_sync(lambda: reconcile_wave(waves, wave_id))
    return WaveReconciliation.model_validate(
        {"wave_id": wave_id, "passed": report["passed"], "report": report}
    )
