"""The mapping editor: each field's proposal, confidence, evidence and sample values;
confirm, edit, reject, approve. Every decision goes through the same audited tools call."""

from __future__ import annotations

from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Role
from api.deps import MappingPath, config_of
from api.pages.rendering import error_page, page_caller, render, require_role, to_login
from api.routes.mappings import TargetPath
from core.errors import DataMashError, InputError
from tools.audit import AuditLog
from tools.canonical import approve_mapping, get_mapping, list_mappings, update_field_mapping
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_slice

router = APIRouter(include_in_schema=False)
SAMPLE_ROWS = 5


def _editor(engine: Any, tenant: str, mapping_id: str) -> dict[str, Any]:
    info = get_mapping(engine, mapping_id, tenant=tenant)
    source = SourceRegistry(engine, tenant=tenant).get(info.source_id)
    rows = staged_slice(source.records_path, offset=0, limit=SAMPLE_ROWS).to_pylist()
    samples = {c["name"]: [str(r.get(c["name"])) for r in rows] for c in source.columns}
    entries = [
        e for e in AuditLog(engine, tenant=tenant).replay("canonical") if e.target == mapping_id
    ][-10:]
    return {"mapping": info, "samples": samples, "columns": list(samples), "entries": entries}


@router.get("/mappings")
async def mapping_list(request: Request) -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    engine = config_of(request).engine
    found = await run_sync(lambda: list_mappings(engine, tenant=caller.tenant))
    return render(request, "mappings.html", caller, mappings=found)


@router.get("/mappings/{mapping_id}")
async def mapping_editor(request: Request, mapping_id: MappingPath) -> Response:
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    engine = config_of(request).engine
    try:
        data = await run_sync(lambda: _editor(engine, caller.tenant, mapping_id))
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(request, "mapping.html", caller, **data)


@router.post("/mappings/{mapping_id}/fields/{target}")
async def decide_field(
    request: Request,
    mapping_id: MappingPath,
    target: TargetPath,
    action: Annotated[str, Form(pattern="^(confirm|edit|reject)$")],
    source: Annotated[str | None, Form(max_length=256)] = None,
) -> Response:
    """Confirm, edit (another source column) or reject one field (operator)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    engine = config_of(request).engine
    changes: dict[str, Any] = {}
    if action == "reject":
        changes["source"] = None
    elif action == "edit":
        changes["source"] = source
    try:
        require_role(caller, Role.OPERATOR)
        if action == "edit" and not source:
            raise InputError("an edit needs a source column", where=target, fix="pick one")
        await run_sync(
            lambda: update_field_mapping(
                engine, mapping_id, target, tenant=caller.tenant, **changes
            )
        )
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/mappings/{mapping_id}?saved={target}", status_code=303)


@router.post("/mappings/{mapping_id}/approve")
async def approve(request: Request, mapping_id: MappingPath) -> Response:
    """Approve the latest version (approver)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    engine = config_of(request).engine
    try:
        require_role(caller, Role.APPROVER)
        await run_sync(lambda: approve_mapping(engine, mapping_id, tenant=caller.tenant))
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/mappings/{mapping_id}?saved=approved", status_code=303)
