"""Wave plans: generated from routing decisions and canonical records, stored, versioned, edited.

``generate_plan`` streams the canonical records of the plan's sources once. A policy is a
candidate when routing sent it to the plan's target (or has not routed it yet); candidates that
every record gate is predicted to pass form wave 0, the rest are grouped by line of business,
complexity (coverage count) and state under a size cap (:mod:`tools.waves.grouping`). The plan,
its waves and one ``wave_policy`` row per policy are written in one audited transaction, the
membership rows through the driver's executemany. Every later edit (moving policies between
waves, rescheduling) is its own audit entry and bumps the plan's version.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, select, update

from core.errors import InputError
from core.store.models import utcnow
from core.targets import canonical_target
from tools.audit import AuditLog
from tools.waves.candidates import Candidates, holding_waves
from tools.waves.context import WaveContext
from tools.waves.contracts import Plan, PlanCriteria, WaveSummary
from tools.waves.expressions import parse_rule
from tools.waves.gates import RecordGate, load_gates
from tools.waves.grouping import assign_waves, complexity_of
from tools.waves.inputs import is_assembly, ready_assembly
from tools.waves.state import NAMESPACE, PLAN, WAVE, WAVE_POLICY, plan_row, wave_row
from tools.waves.statuses import WaveState

_INSERT_CHUNK = 50_000


def generate_plan(
    context: WaveContext,
    *,
    source_ids: list[str] | None = None,
    target: str,
    canonical: str = "policy_v1",
    criteria: PlanCriteria | None = None,
    assembly_ids: list[str] | None = None,
) -> Plan:
    """Plan the waves that move the policies of sources, or of assemblies, to ``target``.

    From sources, a policy is one source's canonical record; from assemblies, it is the whole
    policy an assembly run put together from every system (its coverages, payments,
    endorsements, letters and claims), so the waves migrate, compensate and reconcile whole
    policies.

    Args:
        context: Store, settings, tenant and collaborators.
        source_ids: Ingested sources whose canonical records the plan covers.
        target: Migration target (canonical name or an alias, e.g. ``NewPlatformAPI``).
        canonical: Canonical model of the records.
        criteria: Grouping and gate thresholds (defaults: :class:`PlanCriteria`).
        assembly_ids: Approved assemblies with a finished run (instead of ``source_ids``).

    Returns:
        The stored plan with its waves.

    Raises:
        InputError: no sources (or both sources and assemblies), unknown target, bad business
            rule, an assembly not approved or not fully run, no candidate policies.
        NotFoundError: a source or its canonical records, or an assembly, do not exist.
    """
    criteria = criteria or PlanCriteria()
    engine, who = context.engine, context.tenant
    source_ids = _clean(source_ids)
    assemblies = _clean(assembly_ids)
    if source_ids and assemblies:
        raise InputError(
            "a plan reads either sources or assemblies, not both",
            where="--source/--assembly",
            fix="plan the assemblies (whole policies), or the sources, in separate plans",
        )
    if assemblies:
        for assembly_id in assemblies:
            if not is_assembly(assembly_id):
                raise InputError(
                    f"'{assembly_id}' is not an assembly id",
                    where=f"--assembly {assembly_id}",
                    fix="pass an id from data-mash assembly propose (asm-...)",
                )
            ready_assembly(engine, context.settings, who, assembly_id)
        source_ids = assemblies
    if not source_ids:
        raise InputError(
            "no source given",
            where="--source",
            fix="name at least one source id (or an assembly with --assembly)",
        )
    target = canonical_target(target, where="--target")
    for rule in criteria.business_rules:
        parse_rule(rule)
    gates = load_gates(criteria, canonical)
    record_gates = [g for g in gates if isinstance(g, RecordGate)]
    with engine.connect() as conn:
        collected = Candidates(holding_waves(conn, who))
        for source_id in source_ids:
            for batch in context.canonical_source(source_id):
                collected.add(source_id, batch, target, record_gates, conn, who)
    cols, duplicates = collected.columns()
    if not len(cols["id"]):
        migrated = f" ({collected.migrated} already migrated)" if collected.migrated else ""
        raise InputError(
            f"no policy of {', '.join(source_ids)} is headed for '{target}'{migrated}",
            where="--source/--target",
            fix="route the sources first, or choose the target they were routed to; "
            "migrated policies are not planned again (roll their wave back to re-plan them)",
        )
    numbers, groups = assign_waves(
        cols["clean"],
        cols["lob"].astype(str),
        cols["state"].astype(str),
        complexity_of(cols["coverages"], criteria.complexity_bounds),
        max_size=criteria.max_wave_size,
        wave0_max=criteria.wave0_max_size,
    )
    plan_id = f"plan-{uuid.uuid4().hex[:10]}"
    summary = {
        "policies": int(len(cols["id"])),
        "scanned": collected.scanned,
        "clean": int(cols["clean"].sum()),
        "not_clean_by_gate": {g: n for g, n in collected.failing_by_gate.items() if n},
        "duplicates": len(duplicates),
        "duplicate_sample": duplicates[:20],
        "missing_ids": collected.missing_ids,
        "excluded_by_system": dict(collected.excluded),
        "already_migrated": collected.migrated,
        "waves": len(groups),
        "inputs": "assemblies" if assemblies else "sources",
    }
    payload = {
        "plan_id": plan_id,
        "target": target,
        "canonical": canonical,
        "source_ids": source_ids,
        "criteria": criteria.model_dump(mode="json"),
        "summary": summary,
    }
    log = AuditLog(engine, tenant=who)
    with log.operation(NAMESPACE, "plan", target=plan_id, payload=payload) as op:
        op.outcome = {"waves": len(groups), "policies": summary["policies"]}
        with op.atomic() as conn:
            now = utcnow()
            conn.execute(
                PLAN.insert().values(
                    tenant=who,
                    plan_id=plan_id,
                    version=1,
                    target=target,
                    canonical=canonical,
                    source_ids=source_ids,
                    criteria=criteria.model_dump(mode="json"),
                    summary=summary,
                    entry_id=op.entry_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                WAVE.insert(),
                [
                    {
                        "tenant": who,
                        "wave_id": wave_id_for(plan_id, g.number),
                        "plan_id": plan_id,
                        "number": g.number,
                        "label": g.label[:256],
                        "target": target,
                        "scheduled_for": _scheduled(criteria, g.number),
                        "status": WaveState.PENDING,
                        "steps": {},
                        "gate_overrides": {},
                        "policy_count": g.size,
                        "migrated": 0,
                        "failed": 0,
                        "run_no": 0,
                        "entry_id": op.entry_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for g in groups
                ],
            )
            _insert_members(conn, who, plan_id, cols, numbers)
    return get_plan(context, plan_id)


def _clean(refs: list[str] | None) -> list[str]:
    return list(dict.fromkeys(r.strip() for r in refs or [] if r and r.strip()))


def wave_id_for(plan_id: str, number: int) -> str:
    return f"{plan_id}-w{number}"


def _scheduled(criteria: PlanCriteria, number: int) -> date | None:
    if criteria.start_date is None:
        return None
    return criteria.start_date + timedelta(days=criteria.days_between_waves * number)


def _insert_members(
    conn: Connection, tenant: str, plan_id: str, cols: dict[str, np.ndarray], numbers: np.ndarray
) -> None:
    param = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    sql = (
        f"INSERT INTO wave_policy (tenant, plan_id, wave_id, policy_id, source_id, lob, "
        f"state, coverages) VALUES ({', '.join([param] * 8)})"
    )
    wave_ids = [wave_id_for(plan_id, n) for n in range(int(numbers.max()) + 1)]
    for start in range(0, len(numbers), _INSERT_CHUNK):
        end = start + _INSERT_CHUNK
        rows = zip(
            [tenant] * (min(end, len(numbers)) - start),
            [plan_id] * len(numbers[start:end]),
            [wave_ids[n] for n in numbers[start:end].tolist()],
            cols["id"][start:end].tolist(),
            cols["source"][start:end].tolist(),
            [v[:64] for v in cols["lob"][start:end].tolist()],
            [v[:16] for v in cols["state"][start:end].tolist()],
            cols["coverages"][start:end].tolist(),
            strict=True,
        )
        # Straight to the driver's executemany: an ORM object per policy would cost 10x.
        conn.exec_driver_sql(sql, list(rows))


def get_plan(context: WaveContext, plan_id: str) -> Plan:
    """A stored plan and its waves.

    Raises:
        NotFoundError: no such plan.
    """
    engine, tenant = context.engine, context.tenant
    with engine.connect() as conn:
        row = plan_row(conn, tenant, plan_id)
        waves = conn.execute(
            select(WAVE)
            .where(and_(WAVE.c.tenant == tenant, WAVE.c.plan_id == plan_id))
            .order_by(WAVE.c.number)
        ).all()
    return Plan(
        plan_id=row.plan_id,
        version=row.version,
        target=row.target,
        canonical=row.canonical,
        source_ids=list(row.source_ids),
        assembly_ids=[s for s in row.source_ids if is_assembly(s)],
        criteria=PlanCriteria.model_validate(row.criteria),
        summary=row.summary,
        created_at=row.created_at,
        updated_at=row.updated_at,
        waves=[
            WaveSummary(
                wave_id=w.wave_id,
                number=w.number,
                label=w.label,
                target=w.target,
                status=w.status,
                policy_count=w.policy_count,
                scheduled_for=w.scheduled_for,
            )
            for w in waves
        ],
    )


def _editable(wave: Any) -> None:
    if wave.status not in (WaveState.PENDING, WaveState.COMPENSATED):
        raise InputError(
            f"wave {wave.wave_id} is {wave.status}; only a wave that has not run "
            "(or was compensated) can be edited",
            where=wave.wave_id,
            fix="roll it back first: data-mash wave rollback " + wave.wave_id,
        )


def _bump(conn: Connection, tenant: str, plan_id: str) -> int:
    conn.execute(
        update(PLAN)
        .where(and_(PLAN.c.tenant == tenant, PLAN.c.plan_id == plan_id))
        .values(version=PLAN.c.version + 1, updated_at=utcnow())
    )
    return int(
        conn.execute(
            select(PLAN.c.version).where(and_(PLAN.c.tenant == tenant, PLAN.c.plan_id == plan_id))
        ).scalar_one()
    )


def move_policies(
    context: WaveContext, policy_ids: list[str], *, to_wave: str, reason: str
) -> Plan:
    """Move policies of a plan into another wave of the same plan (audited, new version).

    Raises:
        InputError: no reason, a wave that already ran, policies not in the plan.
        NotFoundError: no such wave.
    """
    engine, tenant = context.engine, context.tenant
    wanted = list(dict.fromkeys(p.strip() for p in policy_ids if p and p.strip()))
    if not wanted or not reason.strip():
        raise InputError("a move needs policy ids and a reason", fix="name both")
    with engine.connect() as conn:
        dest = wave_row(conn, tenant, to_wave)
        _editable(dest)
        rows: list[Any] = []
        for start in range(0, len(wanted), 900):
            rows += conn.execute(
                select(WAVE_POLICY.c.policy_id, WAVE_POLICY.c.wave_id).where(
                    and_(
                        WAVE_POLICY.c.tenant == tenant,
                        WAVE_POLICY.c.plan_id == dest.plan_id,
                        WAVE_POLICY.c.policy_id.in_(wanted[start : start + 900]),
                    )
                )
            ).all()
        current = {r.policy_id: r.wave_id for r in rows}
        unknown = [p for p in wanted if p not in current]
        if unknown:
            raise InputError(
                f"{len(unknown)} policies are not in plan {dest.plan_id} "
                f"(e.g. {', '.join(unknown[:3])})",
                fix="check the policy ids",
            )
        for wave_id in set(current.values()):
            _editable(wave_row(conn, tenant, wave_id))
    moving = [p for p in wanted if current[p] != to_wave]
    payload = {
        "plan_id": dest.plan_id,
        "to_wave": to_wave,
        "reason": reason,
        "from": {p: current[p] for p in moving},
    }
    log = AuditLog(engine, tenant=tenant)
    with log.operation(
        NAMESPACE, "move_policies", target=dest.plan_id, payload=payload, policy_ids=moving
    ) as op:
        with op.atomic() as conn:
            for start in range(0, len(moving), 900):
                conn.execute(
                    update(WAVE_POLICY)
                    .where(
                        and_(
                            WAVE_POLICY.c.tenant == tenant,
                            WAVE_POLICY.c.plan_id == dest.plan_id,
                            WAVE_POLICY.c.policy_id.in_(moving[start : start + 900]),
                        )
                    )
                    .values(wave_id=to_wave)
                )
            for wave_id in {*current.values(), to_wave}:
                count = conn.execute(
                    select(func.count())
                    .select_from(WAVE_POLICY)
                    .where(and_(WAVE_POLICY.c.tenant == tenant, WAVE_POLICY.c.wave_id == wave_id))
                ).scalar_one()
                conn.execute(
                    update(WAVE)
                    .where(and_(WAVE.c.tenant == tenant, WAVE.c.wave_id == wave_id))
                    .values(policy_count=count, updated_at=utcnow())
                )
            op.outcome = {"moved": len(moving), "version": _bump(conn, tenant, dest.plan_id)}
    return get_plan(context, dest.plan_id)


def reschedule_wave(
    context: WaveContext,
    wave_id: str,
    *,
    scheduled_for: date | None,
    reason: str | None = None,
) -> Plan:
    """Change a wave's date (audited, new plan version)."""
    engine, tenant = context.engine, context.tenant
    with engine.connect() as conn:
        wave = wave_row(conn, tenant, wave_id)
    log = AuditLog(engine, tenant=tenant)
    payload = {
        "wave_id": wave_id,
        "from": wave.scheduled_for.isoformat() if wave.scheduled_for else None,
        "to": scheduled_for.isoformat() if scheduled_for else None,
        "reason": reason,
    }
    with log.operation(NAMESPACE, "reschedule", target=wave.plan_id, payload=payload) as op:
        with op.atomic() as conn:
            conn.execute(
                update(WAVE)
                .where(and_(WAVE.c.tenant == tenant, WAVE.c.wave_id == wave_id))
                .values(scheduled_for=scheduled_for, updated_at=utcnow())
            )
            op.outcome = {"version": _bump(conn, tenant, wave.plan_id)}
    return get_plan(context, wave.plan_id)
