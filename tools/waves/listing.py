"""What exists: a tenant's plans and waves, for listings (REST API, dashboard)."""

from __future__ import annotations

from sqlalchemy import select

from tools.waves.context import WaveContext
from tools.waves.contracts import Plan, WaveStatus
from tools.waves.plans import get_plan
from tools.waves.state import PLAN, WAVE, status_of


def list_plans(context: WaveContext) -> list[Plan]:
    """Every plan of the tenant with its waves, oldest first."""
    with context.engine.connect() as conn:
        ids = conn.execute(
            select(PLAN.c.plan_id).where(PLAN.c.tenant == context.tenant).order_by(PLAN.c.id)
        ).scalars()
        plan_ids = list(ids)
    return [get_plan(context, plan_id) for plan_id in plan_ids]


def list_waves(
    context: WaveContext, *, plan_id: str | None = None, status: str | None = None
) -> list[WaveStatus]:
    """Every wave of the tenant (optionally of one plan, or in one status), in plan order."""
    query = select(WAVE).where(WAVE.c.tenant == context.tenant)
    if plan_id is not None:
        query = query.where(WAVE.c.plan_id == plan_id)
    if status is not None:
        query = query.where(WAVE.c.status == status)
    with context.engine.connect() as conn:
        rows = conn.execute(query.order_by(WAVE.c.id)).all()
    return [status_of(row) for row in rows]
