"""Reading and updating the wave tables (plans, waves, membership) of one tenant."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, and_, bindparam, select, update

from core.errors import NotFoundError
from core.store.models import (
    WaveCheckpointRow,
    WaveGateResultRow,
    WavePlanRow,
    WavePolicyRow,
    WaveRow,
    table_of,
    utcnow,
)
from tools.waves.context import WaveContext
from tools.waves.contracts import StepState, WaveStatus
from tools.waves.statuses import MILESTONES

PLAN = table_of(WavePlanRow)
WAVE = table_of(WaveRow)
WAVE_POLICY = table_of(WavePolicyRow)
CHECKPOINT = table_of(WaveCheckpointRow)
GATE_RESULT = table_of(WaveGateResultRow)
NAMESPACE = "waves"
_ID_PAGE = 50_000
#: Built once: a wave's status is the console's hottest read, and building the statement and its
#: cache key cost more than running it.
_WAVE_BY_ID = select(WAVE).where(
    and_(WAVE.c.tenant == bindparam("tenant"), WAVE.c.wave_id == bindparam("wave_id"))
)


def wave_row(conn: Connection, tenant: str, wave_id: str) -> Any:
    """The wave's row; NotFoundError naming how to list waves when there is none."""
    row = conn.execute(_WAVE_BY_ID, {"tenant": tenant, "wave_id": wave_id}).first()
    if row is None:
        raise NotFoundError(
            f"no wave '{wave_id}' for tenant '{tenant}'",
            fix="list the waves with: data-mash wave list",
        )
    return row


def plan_row(conn: Connection, tenant: str, plan_id: str) -> Any:
    row = conn.execute(
        select(PLAN).where(and_(PLAN.c.tenant == tenant, PLAN.c.plan_id == plan_id))
    ).first()
    if row is None:
        raise NotFoundError(
            f"no wave plan '{plan_id}' for tenant '{tenant}'",
            fix="create one with data-mash generate-plan --source S --target T",
        )
    return row


def update_wave(conn: Connection, tenant: str, wave_id: str, **values: Any) -> None:
    values["updated_at"] = utcnow()
    conn.execute(
        update(WAVE)
        .where(and_(WAVE.c.tenant == tenant, WAVE.c.wave_id == wave_id))
        .values(**values)
    )


def set_wave(context: WaveContext, wave_id: str, **values: Any) -> None:
    """Update the wave's row in a transaction of its own."""
    with context.engine.begin() as conn:
        update_wave(conn, context.tenant, wave_id, **values)


def load_wave(context: WaveContext, wave_id: str) -> tuple[Any, Any]:
    """The wave's row and its plan's row.

    Raises:
        NotFoundError: no such wave.
    """
    with context.engine.connect() as conn:
        row = wave_row(conn, context.tenant, wave_id)
        return row, plan_row(conn, context.tenant, row.plan_id)


def steps_of(row: Any) -> dict[str, StepState]:
    stored = row.steps or {}
    return {
        name: StepState.model_validate(stored.get(name, {}))
        for name in dict.fromkeys([*MILESTONES, *stored])
    }


def status_of(row: Any) -> WaveStatus:
    return WaveStatus(
        wave_id=row.wave_id,
        plan_id=row.plan_id,
        number=row.number,
        label=row.label,
        target=row.target,
        status=row.status,
        steps=steps_of(row),
        policy_count=row.policy_count,
        migrated=row.migrated,
        failed=row.failed,
        validation=row.validation,
        gate_overrides=row.gate_overrides or {},
        error=row.error,
        run_no=row.run_no,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def get_wave_status(context: WaveContext, wave_id: str) -> WaveStatus:
    """A wave's overall status, per-milestone state and counts.

    Raises:
        NotFoundError: no such wave.
    """
    with context.engine.connect() as conn:
        return status_of(wave_row(conn, context.tenant, wave_id))


def wave_policy_ids(context: WaveContext, wave_id: str) -> pa.Array:
    """The wave's member policy ids as one Arrow string array (paged reads, no ORM)."""
    chunks: list[pa.Array] = []
    last = ""
    tenant = context.tenant
    with context.engine.connect() as conn:
        while True:
            ids = (
                conn.execute(
                    select(WAVE_POLICY.c.policy_id)
                    .where(
                        and_(
                            WAVE_POLICY.c.tenant == tenant,
                            WAVE_POLICY.c.wave_id == wave_id,
                            WAVE_POLICY.c.policy_id > last,
                        )
                    )
                    .order_by(WAVE_POLICY.c.policy_id)
                    .limit(_ID_PAGE)
                )
                .scalars()
                .all()
            )
            if not ids:
                break
            chunks.append(pa.array(ids, pa.string()))
            last = ids[-1]
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def wave_sources(context: WaveContext, wave_id: str) -> list[str]:
    """Sources the wave's policies come from (the plan's order)."""
    tenant = context.tenant
    with context.engine.connect() as conn:
        wave = wave_row(conn, tenant, wave_id)
        plan = plan_row(conn, tenant, wave.plan_id)
        used = set(
            conn.execute(
                select(WAVE_POLICY.c.source_id)
                .distinct()
                .where(and_(WAVE_POLICY.c.tenant == tenant, WAVE_POLICY.c.wave_id == wave_id))
            ).scalars()
        )
    return [s for s in plan.source_ids if s in used]
