"""Coexistence sync: how far legacy and new are apart, who owns each policy, the conflict queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio.to_thread import run_sync
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import Approver, Cursor, EngineDep, Limit, TenantDep, Viewer
from api.problems import PROBLEM_RESPONSES
from core.ids import ID_MAX_LENGTH, ID_PATTERN
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import (
    ConflictPage,
    ConflictRecord,
    ConflictState,
    LedgerPage,
    Owner,
    SyncStatus,
)
from tools.sync.ledger import OwnershipLedger

router = APIRouter(prefix="/sync", tags=["sync"], responses=PROBLEM_RESPONSES)

ConflictPath = Annotated[int, Path(ge=1, le=2**53, description="The conflict's number.")]


class Resolution(BaseModel):
    """How a person decides a conflict (the same choice as `data-mash sync resolve`)."""

    take: Take = Field(description="legacy or new: take that side's value; value: take `value`.")
    value: Any = Field(None, description="The value to take when take is 'value'.")


@router.get("/status", response_model=SyncStatus)
async def status(_: Viewer, engine: EngineDep, tenant: TenantDep) -> SyncStatus:
    """How far the two sides are apart: lag, backlog, conflicts open and resolved, owners."""
    return await run_sync(ConflictQueue(engine, tenant=tenant).status)


@router.get("/ledger", response_model=LedgerPage)
async def ledger(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    owner: Annotated[Owner | None, Query(description="Only policies owned by this side.")] = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="next_cursor of a page."),
    ] = None,
) -> LedgerPage:
    """The system of record of each policy (legacy, new, dual), since when and why (paged)."""
    book = OwnershipLedger(engine, tenant=tenant)
    return await run_sync(lambda: book.page(owner=owner, limit=limit, cursor=cursor))


@router.get("/conflicts", response_model=ConflictPage)
async def conflicts(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    state: Annotated[
        Literal["open", "resolved", "all"], Query(description="Which conflicts to list.")
    ] = "open",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ConflictPage:
    """Changes both sides made to one field, waiting for a person: base, both values, sources."""
    queue = ConflictQueue(engine, tenant=tenant)
    wanted = None if state == "all" else ConflictState(state)
    return await run_sync(lambda: queue.page(state=wanted, limit=limit, cursor=cursor))


@router.get("/conflicts/{conflict_id}", response_model=ConflictRecord)
async def conflict(
    _: Viewer, engine: EngineDep, tenant: TenantDep, conflict_id: ConflictPath
) -> ConflictRecord:
    """One queued conflict."""
    return await run_sync(lambda: ConflictQueue(engine, tenant=tenant).get(conflict_id))


@router.post("/conflicts/{conflict_id}/resolve", response_model=ConflictRecord)
async def resolve(
    _: Approver,
    engine: EngineDep,
    tenant: TenantDep,
    conflict_id: ConflictPath,
    decision: Resolution,
) -> ConflictRecord:
    """Decide a conflict (approver role; audited with the token as actor). A resolved one is
    refused with the decision it already has."""
    queue = ConflictQueue(engine, tenant=tenant)
    return await run_sync(lambda: queue.resolve(conflict_id, decision.take, decision.value))
