"""Assemblies: whole policies from every source, their conflicts, and one assembled document."""

from __future__ import annotations

from anyio.to_thread import run_sync
from fastapi import APIRouter
from pydantic import Field

from api.deps import AssemblyPath, ConfigDep, Cursor, Limit, TenantDep, Viewer
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from core.paging import Page
from tools.assembly.contracts import AssemblySpec, ConflictRecord, DuplicateRecord
from tools.assembly.listing import AssemblySummary, list_assemblies
from tools.assembly.output import list_conflicts
from tools.assembly.spec import get_assembly

router = APIRouter(prefix="/assemblies", tags=["assemblies"], responses=PROBLEM_RESPONSES)


class AssemblyList(Page):
    """Assemblies of the tenant, newest first, one page."""

    assemblies: list[AssemblySummary]


class AssemblyConflicts(Page):
    """One page of a finished run's conflicts (both values, both sources) and dropped duplicates
    (the same offset into each list)."""

    assembly_id: str
    conflicts: list[ConflictRecord]
    duplicates_total: int = Field(description="Records dropped as a second copy, in all.")
    duplicates: list[DuplicateRecord]


@router.get("", response_model=AssemblyList)
async def assemblies(
    _: Viewer, config: ConfigDep, tenant: TenantDep, limit: Limit = 50, cursor: Cursor = None
) -> AssemblyList:
    """Every assembly with its root, components, run state and last run's counts (paged)."""
    found = await run_sync(lambda: list_assemblies(config.engine, config.settings, tenant=tenant))
    shown, page = page_of(found, limit, cursor)
    return AssemblyList(assemblies=shown, **page.model_dump())


@router.get("/{assembly_id}", response_model=AssemblySpec)
async def show_assembly(
    _: Viewer, config: ConfigDep, tenant: TenantDep, assembly_id: AssemblyPath
) -> AssemblySpec:
    """An assembly's spec: root, components with their relationships, survivorship, crosswalks."""
    return await run_sync(lambda: get_assembly(config.engine, assembly_id, tenant=tenant))


@router.get("/{assembly_id}/conflicts", response_model=AssemblyConflicts)
async def conflicts(
    _: Viewer,
    config: ConfigDep,
    tenant: TenantDep,
    assembly_id: AssemblyPath,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AssemblyConflicts:
    """Fields two sources hold with different values in the finished run (the survivor and the
    other value, each with its source and row), and duplicates dropped (paged)."""
    offset = int(cursor) if cursor else 0
    found = await run_sync(
        lambda: list_conflicts(config.settings, tenant, assembly_id, limit=limit, offset=offset)
    )
    end = min(found.total, offset + limit)
    more = end < max(found.total, found.duplicates_total)
    return AssemblyConflicts(
        assembly_id=assembly_id,
        conflicts=found.conflicts,
        duplicates_total=found.duplicates_total,
        duplicates=found.duplicates,
        total=found.total,
        next_cursor=str(offset + limit) if more else None,
        note=f"more; call again with cursor={offset + limit}" if more else None,
    )
