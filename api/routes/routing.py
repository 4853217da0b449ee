"""Routing: where the tenant's policies are now, by target system."""

from __future__ import annotations

from anyio.to_thread import run_sync
from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import EngineDep, TenantDep, Viewer
from api.problems import PROBLEM_RESPONSES
from tools.audit import PolicyLocations

router = APIRouter(prefix="/routing", tags=["routing"], responses=PROBLEM_RESPONSES)


class RoutingDistribution(BaseModel):
    """How many policies each system holds now (the policy location ledger)."""

    by_system: dict[str, int] = Field(description="System -> policies located there.")
    total: int


@router.get("/distribution", response_model=RoutingDistribution)
async def routing_distribution(
    _: Viewer, engine: EngineDep, tenant: TenantDep
) -> RoutingDistribution:
    """Policies per system, from the location ledger every routing and wave move updates."""
    counts = await run_sync(lambda: PolicyLocations(engine, tenant=tenant).counts_by_system())
    return RoutingDistribution(by_system=dict(sorted(counts.items())), total=sum(counts.values()))
