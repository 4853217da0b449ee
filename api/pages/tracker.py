"""Policy tracker search and audit-log replay pages (filters and paging in the URL)."""

from __future__ import annotations

from typing import Annotated

from anyio.to_thread import run_sync
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Cursor, config_of
from api.pages.rendering import error_page, page_caller, render, to_login
from api.routes.audit import replay
from core.errors import DataMashError
from tools.audit import AuditLog
from tools.waves import locate_policy

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 50


@router.get("/policies")
async def policy_page(
    request: Request,
    policy_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Search a policy id: where it is, its moves and waves, its audit trail."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    if not policy_id:
        return render(request, "policy.html", caller, report=None, trail=[])
    config = config_of(request)
    context = config.context_for(config.engine, config.settings, caller.tenant)
    try:
        report, trail = await run_sync(
            lambda: (
                locate_policy(context, policy_id.strip(), reconcile=True),
                AuditLog(config.engine, tenant=caller.tenant).trail(policy_id.strip()),
            )
        )
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(request, "policy.html", caller, report=report, trail=trail)


@router.get("/audit")
async def audit_page(
    request: Request,
    namespace: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
) -> Response:
    """Replay the write-ahead log by namespace and time range, a page at a time."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    config = config_of(request)
    try:
        page = await replay(
            caller,
            config.engine,
            caller.tenant,
            namespace=namespace or None,
            since=since or None,
            until=until or None,
            limit=AUDIT_PAGE,
            cursor=cursor,
        )
    except DataMashError as exc:
        return error_page(request, caller, exc)
    start = int(cursor) if cursor else 0
    return render(request, "audit.html", caller, page=page, start=start)
