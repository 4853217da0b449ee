"""Wave plans: list and show."""

from __future__ import annotations

from anyio.to_thread import run_sync
from fastapi import APIRouter

from api.deps import Cursor, Limit, PlanPath, Viewer, WavesDep
from api.paging import page_of
from api.problems import PROBLEM_RESPONSES
from core.paging import Page
from tools.waves import Plan, get_plan
from tools.waves.listing import list_plans as listing

router = APIRouter(prefix="/plans", tags=["plans"], responses=PROBLEM_RESPONSES)


class PlanList(Page):
    """Plans of the tenant, one page."""

    plans: list[Plan]


@router.get("", response_model=PlanList)
async def list_plans(
    _: Viewer, waves: WavesDep, limit: Limit = 20, cursor: Cursor = None
) -> PlanList:
    """Every plan of the caller's tenant with its waves, oldest first (paged)."""
    found = await run_sync(lambda: listing(waves))
    shown, page = page_of(found, limit, cursor)
    return PlanList(plans=shown, **page.model_dump())


@router.get("/{plan_id}", response_model=Plan)
async def show_plan(_: Viewer, waves: WavesDep, plan_id: PlanPath) -> Plan:
    """A plan, its criteria and its waves."""
    return await run_sync(lambda: get_plan(waves, plan_id))
