"""Policy tracker search and audit-log replay pages (filters and paging in the URL)."""

from __future__ import annotations

from typing import Annotated

from anyio.to_thread import run_sync
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Cursor, config_of
from api.pages.rendering import error_page, page_caller, render, to_login
from api.routes.audit import read_page
from core.errors import DataMashError, NotFoundError
from tools.assembly.contracts import PolicyDocument
from tools.assembly.output import show_policy
from tools.audit import AuditLog, AuditRecord
from tools.audit.contracts import audit_page_of
from tools.waves import PolicyReport, locate_policy

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
        return render(request, "policy.html", caller, report=None, trail=[], document=None)
    config = config_of(request)
    context = config.context_of(caller.tenant)
    wanted = policy_id.strip()

    def read() -> tuple[PolicyReport | None, list[AuditRecord], PolicyDocument | None]:
        try:
            document: PolicyDocument | None = show_policy(
                config.engine, config.settings, caller.tenant, wanted, None
            )
        except NotFoundError:
            document = None
        try:
            report = locate_policy(context, wanted, reconcile=True)
        except NotFoundError:
            if document is None:
                raise
            return None, [], document  # assembled, not yet planned or moved
        return report, AuditLog(config.engine, tenant=caller.tenant).trail(wanted), document

    try:
        report, trail, document = await run_sync(read)
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(request, "policy.html", caller, report=report, trail=trail, document=document)


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
        entries, paging = read_page(
            config.engine, caller.tenant, namespace, since, until, AUDIT_PAGE, cursor
        )
        page = audit_page_of(entries, paging)
    except DataMashError as exc:
        return error_page(request, caller, exc)
    start = int(cursor) if cursor else 0
    return render(request, "audit.html", caller, page=page, start=start)
