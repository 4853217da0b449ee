"""Ingested sources: list, show, profile, a page of records (sample values)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Query
from pydantic import JsonValue

from api.deps import Cursor, EngineDep, Limit, SourcePath, TenantDep, Viewer
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from tools.content.contracts import RecordPage, SourceList, SourceProfileReport, SourceSummary
from tools.content.profiling import read_profile
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_slice

router = APIRouter(prefix="/sources", tags=["sources"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=SourceList)
async def list_sources(
    _: Viewer, engine: EngineDep, tenant: TenantDep, limit: Limit = 50, cursor: Cursor = None
) -> SourceList:
    """Ingested sources of the caller's tenant, oldest first (paged)."""

    found = await run_sync(lambda: SourceRegistry(engine, tenant=tenant).list())
    shown, page = page_of(found, limit, cursor)
    return SourceList(sources=[s.summary() for s in shown], **page.model_dump())


@router.get("/{source_id}", response_model=SourceSummary)
async def show_source(
    _: Viewer, engine: EngineDep, tenant: TenantDep, source_id: SourcePath
) -> SourceSummary:
    """One source: format, records, quarantined records, quality."""

    info = await run_sync(lambda: SourceRegistry(engine, tenant=tenant).get(source_id))
    return info.summary()


@router.get("/{source_id}/profile", response_model=SourceProfileReport)
async def profile_source(
    _: Viewer, engine: EngineDep, tenant: TenantDep, source_id: SourcePath
) -> SourceProfileReport:
    """Per column type, nulls, distinct values, pattern and quality; key issues."""

    def work() -> SourceProfileReport:
        return read_profile(SourceRegistry(engine, tenant=tenant).get(source_id))

    return await run_sync(work)


@router.get("/{source_id}/records", response_model=RecordPage)
async def source_records(
    _: Viewer,
    engine: EngineDep,
    tenant: TenantDep,
    source_id: SourcePath,
    limit: Annotated[int, Query(ge=1, le=100, description="Records per page.")] = 20,
    cursor: Cursor = None,
) -> RecordPage:
    """Decoded records of a source, a page at a time (the sample values reviewers look at)."""

    def work() -> RecordPage:
        info = SourceRegistry(engine, tenant=tenant).get(source_id)
        offsets = range(info.records)
        _, page = page_of(offsets, limit, cursor)
        start = int(cursor) if cursor else 0
        rows = staged_slice(info.records_path, offset=min(start, info.records), limit=limit)
        return RecordPage(
            source_id=source_id, records=_jsonable(rows.to_pylist()), **page.model_dump()
        )

    return await run_sync(work)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, JsonValue]]:

    return json.loads(json.dumps(rows, default=str))
