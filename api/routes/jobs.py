"""Jobs (wave run, rollback): their state, and their progress as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from anyio.to_thread import run_sync
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import JobPath, TenantDep, Viewer
from api.jobs import Job, JobState
from api.problems import PROBLEM_RESPONSES
from api.routes.waves import jobs_of

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=PROBLEM_RESPONSES)

#: How often the event stream looks at a job (the saga reports per batch, far less often).
POLL_SECONDS = 0.25


@router.get("/{job_id}", response_model=Job)
async def show_job(_: Viewer, tenant: TenantDep, job_id: JobPath, request: Request) -> Job:
    """A job's state, progress (percent of the whole saga) and outcome."""
    return await run_sync(lambda: jobs_of(request).get(tenant, job_id))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Progress events."}},
)
async def job_events(
    _: Viewer, tenant: TenantDep, job_id: JobPath, request: Request
) -> StreamingResponse:
    """Server-Sent Events: a ``progress`` event on every change, then ``done`` with the job."""
    registry = jobs_of(request)
    await run_sync(lambda: registry.get(tenant, job_id))  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        last = None
        while True:  # from the store: the job may run in another server process
            job = await run_sync(lambda: registry.get(tenant, job_id))
            data = job.model_dump_json()
            if data != last:
                last = data
                kind = "progress" if job.state == JobState.RUNNING else "done"
                yield f"event: {kind}\ndata: {data}\n\n"
            if job.state != JobState.RUNNING or await request.is_disconnected():
                return
            await anyio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
