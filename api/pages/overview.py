"""Overview and wave pages: estate, sources, mappings, routing, waves with live progress, gates."""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Caller, Role
from api.deps import ApiConfig, JobPath, WavePath, config_of
from api.jobs import Job
from api.pages.rendering import error_page, page_caller, render, require_role, to_login
from api.routes.waves import jobs_of
from core.errors import DataMashError
from tools.audit import PolicyLocations
from tools.canonical import get_mapping, list_mappings
from tools.canonical.calibration import calibration
from tools.content.sources import SourceRegistry
from tools.waves import (
    GateReport,
    WaveStatus,
    get_wave_status,
    latest_gate_report,
    rollback_wave,
    run_wave,
)
from tools.waves.listing import list_waves

router = APIRouter(include_in_schema=False)


def _overview(config: ApiConfig, tenant: str, status: str | None) -> dict[str, Any]:
    engine = config.engine
    context = config.context_for(engine, config.settings, tenant)
    sources = [s.summary() for s in SourceRegistry(engine, tenant=tenant).list()]
    names = {s.source_id: s.name for s in sources}
    mappings = []
    for summary in list_mappings(engine, tenant=tenant):
        info = get_mapping(engine, summary.mapping_id, tenant=tenant)
        confirmed = sum(r.confirmed for r in info.rules)  # edited, or approved with the mapping
        mappings.append(
            {
                "summary": summary,
                "source_name": names.get(summary.source_id, summary.source_id),
                "confirmed": confirmed,
                "fields": len(info.rules),
            }
        )
    waves = list_waves(context, status=status or None)
    failed: list[tuple[str, Any]] = []
    for wave in waves:
        report: GateReport | None = latest_gate_report(context, wave.wave_id)
        if report is not None:
            failed += [(wave.wave_id, r) for r in report.results if not r.passed]
    counts = PolicyLocations(engine, tenant=tenant).counts_by_system()
    return {
        "throughput": throughput(waves),
        "calibration": calibration(engine, tenant=tenant),
        "sources": sources,
        "mappings": mappings,
        "waves": waves,
        "failed_gates": failed,
        "distribution": dict(sorted(counts.items())),
        "located": sum(counts.values()),
    }


def throughput(waves: list[WaveStatus]) -> list[dict[str, Any]]:
    """Policies migrated per second of each wave that ran (migrated over its run's duration)."""
    rows = []
    for wave in waves:
        if wave.started_at is None or wave.finished_at is None or not wave.migrated:
            continue
        seconds = max((wave.finished_at - wave.started_at).total_seconds(), 1e-3)
        rows.append(
            {
                "wave_id": wave.wave_id,
                "migrated": wave.migrated,
                "seconds": seconds,
                "rate": wave.migrated / seconds,
            }
        )
    return rows


@router.get("/")
async def overview(request: Request, status: str | None = None) -> Response:
    """The estate at a glance; ``?status=`` filters the waves (kept in the URL)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    config = config_of(request)
    registry = jobs_of(request)

    def read() -> tuple[dict[str, Any], dict[str, Job | None]]:
        data = _overview(config, caller.tenant, status)
        return data, {w.wave_id: registry.of_wave(caller.tenant, w.wave_id) for w in data["waves"]}

    data, jobs = await run_sync(read)
    return render(request, "overview.html", caller, jobs=jobs, **data)


@router.get("/waves/{wave_id}")
async def wave_page(request: Request, wave_id: WavePath, job: str | None = None) -> Response:
    """One wave: milestones, gates with their failing policies, run/rollback, live progress."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    config = config_of(request)
    context = config.context_for(config.engine, config.settings, caller.tenant)
    try:
        registry = jobs_of(request)
        status, gates, watched = await run_sync(
            lambda: (
                get_wave_status(context, wave_id),
                latest_gate_report(context, wave_id),
                registry.get(caller.tenant, job)
                if job
                else registry.of_wave(caller.tenant, wave_id),
            )
        )
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(request, "wave.html", caller, wave=status, gates=gates, job=watched)


def _start(request: Request, caller: Caller, wave_id: str, kind: str) -> Job:
    config = config_of(request)
    context = config.context_for(config.engine, config.settings, caller.tenant)
    get_wave_status(context, wave_id)
    if kind == "run":
        return jobs_of(request).start(
            caller.tenant,
            kind,
            wave_id,
            lambda progress: run_wave(context, wave_id, progress=progress),
        )
    return jobs_of(request).start(
        caller.tenant,
        kind,
        wave_id,
        lambda progress: rollback_wave(context, wave_id, progress=progress),
    )


@router.post("/waves/{wave_id}/run")
async def run_page(request: Request, wave_id: WavePath) -> Response:
    """Start a run (operator) and go to the wave page, which streams its progress."""
    return await _action(request, wave_id, "run", Role.OPERATOR)


@router.post("/waves/{wave_id}/rollback")
async def rollback_page(request: Request, wave_id: WavePath) -> Response:
    """Start a rollback (approver) and go to the wave page."""
    return await _action(request, wave_id, "rollback", Role.APPROVER)


async def _action(request: Request, wave_id: str, kind: str, role: Role) -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    try:
        require_role(caller, role)
        job = await run_sync(lambda: _start(request, caller, wave_id, kind))
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/waves/{wave_id}?job={job.job_id}", status_code=303)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: JobPath) -> Response:
    """Where a job's wave page is (links from elsewhere name only the job)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    try:
        registry = jobs_of(request)
        job = await run_sync(lambda: registry.get(caller.tenant, job_id))
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/waves/{job.wave_id}?job={job.job_id}", status_code=303)
