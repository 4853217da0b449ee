"""Sync page: how far legacy and new are apart, the owners, and the conflict queue (decide)."""

from __future__ import annotations

from typing import Annotated, Literal

from anyio.to_thread import run_sync
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Role
from api.deps import Cursor, config_of
from api.pages.rendering import error_page, page_caller, render, require_role, to_login
from core.errors import DataMashError
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import ConflictState

router = APIRouter(include_in_schema=False)
CONFLICT_PAGE = 50


@router.get("/sync")
async def sync_page(
    request: Request,
    state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    cursor: Cursor = None,
) -> Response:
    """Lag, backlog and owners; the conflicts (state filter and page in the URL)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    queue = ConflictQueue(config_of(request).engine, tenant=caller.tenant)
    wanted = None if state == "all" else ConflictState(state)
    try:
        status, page = await run_sync(
            lambda: (
                queue.status(),
                queue.page(state=wanted, limit=CONFLICT_PAGE, cursor=cursor),
            )
        )
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(request, "sync.html", caller, sync=status, page=page, state=state)


@router.post("/sync/conflicts/{conflict_id}/resolve")
async def resolve_page(
    request: Request,
    conflict_id: int,
    take: Annotated[Literal["legacy", "new"], Form()],
) -> Response:
    """Take the legacy or the new value (approver; audited with the token as actor)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    queue = ConflictQueue(config_of(request).engine, tenant=caller.tenant)
    try:
        require_role(caller, Role.APPROVER)
        await run_sync(lambda: queue.resolve(conflict_id, Take(take)))
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/sync?resolved={conflict_id}", status_code=303)
