"""The policy tracker: where a policy is, how it moved, its lineage and its audit trail."""

from __future__ import annotations

from typing import Annotated

from anyio.to_thread import run_sync
from fastapi import APIRouter, Query

from api.deps import (
    ConfigDep,
    Cursor,
    EngineDep,
    Limit,
    PolicyPath,
    TenantDep,
    Viewer,
    WavesDep,
)
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from core.errors import NotFoundError
from core.ids import ID_MAX_LENGTH, ID_PATTERN
from tools.assembly.contracts import PolicyDocument
from tools.assembly.output import show_policy
from tools.audit import AuditLog, PolicyLocations
from tools.audit.contracts import AuditPage, PolicyMoves
from tools.waves import PolicyReport, lineage, locate_policy
from tools.waves.tracker import PolicyLineage

router = APIRouter(prefix="/policies", tags=["policy tracker"], responses=PROBLEM_RESPONSES)


@router.get("/{policy_id}", response_model=PolicyReport)
async def locate(
    _: Viewer,
    waves: WavesDep,
    policy_id: PolicyPath,
    reconcile: Annotated[
        bool, Query(description="Also compare the target's copy with the canonical record.")
    ] = False,
) -> PolicyReport:
    """Where a policy lives now, its waves, one-policy reconciliation and its summary."""
    if not reconcile:  # a few indexed reads by policy id: on the loop (see api.deps)
        return locate_policy(waves, policy_id, reconcile=False)
    return await run_sync(lambda: locate_policy(waves, policy_id, reconcile=True))


@router.get("/{policy_id}/history", response_model=PolicyMoves)
async def history(
    _: Viewer, engine: EngineDep, tenant: TenantDep, policy_id: PolicyPath
) -> PolicyMoves:
    """Every move of a policy between systems (wave, rule, reason, time), oldest first."""
    locations = PolicyLocations(engine, tenant=tenant)
    location, moves = await run_sync(
        lambda: (locations.locate(policy_id), locations.history(policy_id))
    )
    if location is None and not moves:
        raise NotFoundError(
            f"policy '{policy_id}' has never been placed in a system",
            fix="check the id, or route its source first",
        )
    return PolicyMoves(policy_id=policy_id, location=location, moves=moves)


@router.get("/{policy_id}/document", response_model=PolicyDocument)
async def assembled_document(
    _: Viewer,
    config: ConfigDep,
    tenant: TenantDep,
    policy_id: PolicyPath,
    assembly_id: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            max_length=ID_MAX_LENGTH,
            description="The assembly (default: the newest run that holds the policy).",
        ),
    ] = None,
) -> PolicyDocument:
    """A policy's assembled canonical document, where each field came from (system, source,
    rows, columns) and which of the estate's records for it arrived (`data-mash policy show`)."""
    return await run_sync(
        lambda: show_policy(config.engine, config.settings, tenant, policy_id, assembly_id)
    )


@router.get("/{policy_id}/lineage", response_model=PolicyLineage)
async def policy_lineage(_: Viewer, waves: WavesDep, policy_id: PolicyPath) -> PolicyLineage:
    """A policy's path: source file, source, mapping version, canonical, rule, wave, target."""
    steps = await run_sync(lambda: lineage(waves, policy_id))
    return PolicyLineage(policy_id=policy_id, steps=steps)


@router.get("/{policy_id}/audit", response_model=AuditPage)
async def audit_trail(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    policy_id: PolicyPath,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """Every audited operation that touched one policy, oldest first (paged; long payloads
    shortened, whole at ``/audit/{entry_id}``)."""
    entries = await run_sync(lambda: AuditLog(engine, tenant=tenant).trail(policy_id, preview=True))
    if not entries:
        raise NotFoundError(
            f"no audit entry touches policy '{policy_id}'", fix="check the policy id"
        )
    shown, page = page_of(entries, limit, cursor)
    return AuditPage(
        entries=shown, incomplete=sum(e.incomplete for e in shown), **page.model_dump()
    )
