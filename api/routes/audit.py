"""Audit-log replay: the write-ahead log by namespace and time range, paged, read-only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Engine

from api.deps import Cursor, EngineDep, Limit, TenantDep, Viewer
from api.problems import PROBLEM_RESPONSES
from core.errors import InputError, NotFoundError
from core.paging import Page
from core.timeparse import parse_time
from tools.audit import AuditLog, AuditRecord
from tools.audit.contracts import AuditPage, audit_page_json

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)

TimeQuery = Annotated[
    str | None,
    Query(max_length=40, description="ISO 8601 time or an age such as 2h, 7d."),
]


def read_page(
    engine: Engine,
    tenant: str,
    namespace: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], Page]:
    """One page of the tenant's log, as its entries' field values and the paging fields (the
    route writes them as JSON, the dashboard's replay page renders them)."""
    start_at = parse_time(since, option="since") if since else None
    end_at = parse_time(until, option="until") if until else None
    if start_at and end_at and start_at > end_at:
        raise InputError(f"since {since} is after until {until}", where="since", fix="swap them")
    offset = int(cursor) if cursor else 0
    # One page and a count, both indexed: cheap enough to run on the event loop (a thread hop
    # costs more than the read and, under load, waits for the GIL).
    entries, total = AuditLog(engine, tenant=tenant).replay_page_values(
        namespace or None, start_at, end_at, offset=offset, limit=limit, preview=True
    )
    end = min(total, offset + limit)
    page = Page(
        next_cursor=str(end) if end < total else None,
        total=total,
        note=f"{total - end} more; call again with cursor={end}" if end < total else None,
    )
    return entries, page


@router.get("", response_model=AuditPage)
async def replay(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    namespace: Annotated[
        str | None,
        Query(max_length=64, description="Only this namespace: content, canonical, waves..."),
    ] = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Entries in commit order; ``incomplete`` counts the page's crashed (pending) entries.

    A long payload or outcome is shortened to its small items; ``shortened`` says which,
    and ``/audit/{entry_id}`` returns the entry whole.
    """
    entries, page = read_page(engine, tenant, namespace, since, until, limit, cursor)
    # The rows are our own log's: the page is written as JSON straight from them, not
    # validated into records first (the same document, tested).
    return Response(audit_page_json(entries, page), media_type="application/json")


@router.get("/{entry_id}", response_model=AuditRecord)
async def show_entry(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    entry_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Audit entry id.")],
) -> AuditRecord:
    """One audit entry whole: its full payload and outcome (listings shorten long ones)."""
    entry = AuditLog(engine, tenant=tenant).get(entry_id)  # a primary-key read: on the loop
    if entry is None:
        raise NotFoundError(f"no audit entry {entry_id}", fix="list entries with GET /api/v1/audit")
    return entry
