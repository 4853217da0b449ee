"""Mappings of sources onto the canonical model: list, show with evidence, edit a field, approve."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio.to_thread import run_sync
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Approver, Cursor, EngineDep, Limit, MappingPath, Operator, TenantDep, Viewer
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from core.errors import InputError
from core.paging import Page
from tools.canonical import approve_mapping as approve
from tools.canonical import get_mapping, update_field_mapping
from tools.canonical import list_mappings as listing
from tools.canonical.spec import MappingInfo, MappingSummary

router = APIRouter(prefix="/mappings", tags=["mappings"], responses=PROBLEM_RESPONSES)

TargetPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.\[\]]{0,127}$",
        description="Canonical field path, e.g. policy_core.status.",
    ),
]


class MappingList(Page):
    """Mappings of the tenant, one page."""

    mappings: list[MappingSummary]


class FieldEdit(BaseModel):
    """A reviewer's decision on one canonical field (audited; an approved mapping gets a draft)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["confirm", "edit", "reject"] = Field(
        description="confirm the proposal, edit its source/transform, or reject (unmap) it."
    )
    source: str | None = Field(None, max_length=256, description="Source column (for edit).")
    transform: list[dict[str, Any]] | None = Field(
        None, max_length=20, description='Transform steps (for edit), e.g. [{"kind": "upper"}].'
    )


class Approval(BaseModel):
    """Approve the latest version; fields below ``min_confidence`` become unmapped first."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float | None = Field(None, ge=0.0, le=1.0)


@router.get("", response_model=MappingList)
async def list_mappings(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    source_id: Annotated[str | None, Query(max_length=64, description="Only this source.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MappingList:
    """Every mapping of the caller's tenant, oldest first (paged)."""

    found = await run_sync(lambda: listing(engine, tenant=tenant, source_id=source_id))
    shown, page = page_of(found, limit, cursor)
    return MappingList(mappings=shown, **page.model_dump())


@router.get("/{mapping_id}", response_model=MappingInfo)
async def show_mapping(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    mapping_id: MappingPath,
    version: Annotated[int | None, Query(ge=1, description="Version (default: latest).")] = None,
) -> MappingInfo:
    """A mapping's rules, each with its confidence, evidence and review status."""

    return await run_sync(lambda: get_mapping(engine, mapping_id, tenant=tenant, version=version))


@router.patch("/{mapping_id}/fields/{target}", response_model=MappingInfo)
async def edit_field(
    _: Operator,
    engine: EngineDep,
    tenant: TenantDep,
    mapping_id: MappingPath,
    target: TargetPath,
    edit: FieldEdit,
) -> MappingInfo:
    """Confirm, edit or reject one field (the same call as `data-mash mapping set-field`)."""

    changes: dict[str, Any] = {}
    if edit.action == "reject":
        changes["source"] = None
    elif edit.action == "edit":
        if edit.source is None and edit.transform is None:
            raise InputError(
                "an edit needs a source column or a transform", where="body", fix="give source"
            )
        if edit.source is not None:
            changes["source"] = edit.source
        if edit.transform is not None:
            changes["transform"] = edit.transform
    return await run_sync(
        lambda: update_field_mapping(engine, mapping_id, target, tenant=tenant, **changes)
    )


@router.post("/{mapping_id}/approve", response_model=MappingInfo)
async def approve_mapping(
    _: Approver,
    engine: EngineDep,
    tenant: TenantDep,
    mapping_id: MappingPath,
    approval: Approval | None = None,
) -> MappingInfo:
    """Approve the latest version (approver role); mandatory fields must be mapped."""

    floor = approval.min_confidence if approval else None
    return await run_sync(lambda: approve(engine, mapping_id, tenant=tenant, min_confidence=floor))
