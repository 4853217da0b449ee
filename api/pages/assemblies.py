"""Assembly pages: every assembly and its run, one assembly's components and conflicts (paged)."""

from __future__ import annotations

from anyio.to_thread import run_sync
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import AssemblyPath, Cursor, config_of
from api.pages.rendering import error_page, page_caller, render, to_login
from core.errors import DataMashError
from tools.assembly.listing import list_assemblies
from tools.assembly.output import list_conflicts
from tools.assembly.spec import get_assembly

router = APIRouter(include_in_schema=False)
CONFLICT_PAGE = 50


@router.get("/assemblies")
async def assemblies_page(request: Request) -> Response:
    """Every assembly: root, components, run state and the last run's counts."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    config = config_of(request)
    found = await run_sync(
        lambda: list_assemblies(config.engine, config.settings, tenant=caller.tenant)
    )
    return render(request, "assemblies.html", caller, assemblies=found)


@router.get("/assemblies/{assembly_id}")
async def assembly_page(
    request: Request, assembly_id: AssemblyPath, cursor: Cursor = None
) -> Response:
    """One assembly: its components and their relationships, its run, its conflicts (paged;
    the page is in the URL)."""
    caller = page_caller(request)
    if caller is None:
        return to_login(request)
    config = config_of(request)
    offset = int(cursor) if cursor else 0

    def read() -> tuple[object, object, object]:
        spec = get_assembly(config.engine, assembly_id, tenant=caller.tenant)
        summary = next(
            a
            for a in list_assemblies(config.engine, config.settings, tenant=caller.tenant)
            if a.assembly_id == assembly_id
        )
        conflicts = (
            list_conflicts(
                config.settings, caller.tenant, assembly_id, limit=CONFLICT_PAGE, offset=offset
            )
            if summary.run == "complete"
            else None
        )
        return spec, summary, conflicts

    try:
        spec, summary, conflicts = await run_sync(read)
    except DataMashError as exc:
        return error_page(request, caller, exc)
    return render(
        request,
        "assembly.html",
        caller,
        spec=spec,
        summary=summary,
        conflicts=conflicts,
        start=offset,
        page_size=CONFLICT_PAGE,
    )
