"""Checking a wave's gates, recording each verdict, and overriding a failed gate with a reason.

Gates fail closed: a gate that raises while checking is recorded as failed with the error as its
detail, never as passed. Record gates share one pass over the wave's canonical records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, func, select

from core.errors import InputError
from core.metrics import GATE_FAILURES, count
from core.store.models import utcnow
from tools.audit import AuditLog
from tools.waves.context import WaveContext
from tools.waves.contracts import GateReport, GateResult, PlanCriteria
from tools.waves.gates.base import SAMPLE_SIZE, FailureTally, GateContext, RecordGate, WaveGate
from tools.waves.gates.registry import load_gate
from tools.waves.state import (
    GATE_RESULT,
    NAMESPACE,
    WAVE_POLICY,
    plan_row,
    update_wave,
    wave_policy_ids,
    wave_row,
    wave_sources,
)
from tools.waves.targets.base import POLICY_ID


def wave_batches(context: WaveContext, wave_id: str) -> Iterator[pa.RecordBatch]:
    """The wave's canonical records, read from its sources and filtered to its members."""
    members = wave_policy_ids(context, wave_id)
    for source_id in wave_sources(context, wave_id):
        for batch in context.canonical_source(source_id):
            parts = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
            for part in parts:
                mask = pc.is_in(part.column(POLICY_ID).cast(pa.string()), value_set=members)
                kept = part.filter(mask)
                if kept.num_rows:
                    yield kept


def gate_context(context: WaveContext, wave_id: str) -> GateContext:
    engine, tenant = context.engine, context.tenant
    with engine.connect() as conn:
        wave = wave_row(conn, tenant, wave_id)
        plan = plan_row(conn, tenant, wave.plan_id)
    criteria = PlanCriteria.model_validate(plan.criteria)

    def by_source() -> dict[str, tuple[int, list[str]]]:
        out: dict[str, tuple[int, list[str]]] = {}
        with engine.connect() as conn:
            counts = conn.execute(
                select(WAVE_POLICY.c.source_id, func.count())
                .where(and_(WAVE_POLICY.c.tenant == tenant, WAVE_POLICY.c.wave_id == wave_id))
                .group_by(WAVE_POLICY.c.source_id)
            ).all()
            for source_id, count in counts:
                sample = (
                    conn.execute(
                        select(WAVE_POLICY.c.policy_id)
                        .where(
                            and_(
                                WAVE_POLICY.c.tenant == tenant,
                                WAVE_POLICY.c.wave_id == wave_id,
                                WAVE_POLICY.c.source_id == source_id,
                            )
                        )
                        .limit(SAMPLE_SIZE)
                    )
                    .scalars()
                    .all()
                )
                out[source_id] = (int(count), list(sample))
        return out

    def confidences(source_id: str) -> dict[str, float] | None:
        if context.confidence_source is None:
            return None
        return context.confidence_source(source_id)

    def confirmations(source_id: str) -> dict[str, dict[str, str]]:
        if context.confirmation_source is None:
            return {}
        return context.confirmation_source(source_id)

    return GateContext(
        wave_id=wave_id,
        tenant=tenant,
        criteria=criteria,
        canonical=plan.canonical,
        policy_count=wave.policy_count,
        batches=lambda: wave_batches(context, wave_id),
        target=lambda: context.target(wave.target, criteria.target_config),
        policies_by_source=by_source,
        confidences=confidences,
        confirmations=confirmations,
    )


def _raised(name: str, exc: BaseException) -> GateResult:
    return GateResult(
        gate=name,
        passed=False,
        detail=f"gate raised while checking (fails closed): {type(exc).__name__}: {exc}"[:2000],
    )


def evaluate_gates(ctx: GateContext, gates: list[WaveGate]) -> list[GateResult]:
    """Every gate's verdict; record gates in one shared pass; any exception fails that gate."""
    results: dict[str, GateResult] = {}
    record = [g for g in gates if isinstance(g, RecordGate)]
    tallies = {g.name: FailureTally(g.name, g.describe()) for g in record}
    if record:
        try:
            for batch in ctx.batches():
                for record_gate in record:
                    name = record_gate.name
                    if name in results:
                        continue
                    try:
                        tallies[name].add(batch, record_gate.failing(batch))
                    except Exception as exc:  # noqa: BLE001  (fail closed, keep checking others)
                        results[name] = _raised(name, exc)
        except Exception as exc:  # noqa: BLE001  (no records to check: every record gate fails)
            for failed in record:
                results.setdefault(failed.name, _raised(failed.name, exc))
        for tallied in record:
            results.setdefault(tallied.name, tallies[tallied.name].result())
    for gate in gates:
        if gate.name in results:
            continue
        try:
            result = gate.check(ctx)
            if not isinstance(result, GateResult):
                raise TypeError(f"check() returned {type(result).__name__}, not GateResult")
            results[gate.name] = result
        except Exception as exc:  # noqa: BLE001  (fail closed)
            results[gate.name] = _raised(gate.name, exc)
    return [results[g.name] for g in gates]


def check_gates(context: WaveContext, wave_id: str) -> GateReport:
    """Check every gate of the wave's plan, record the verdicts, apply standing overrides.

    Raises:
        NotFoundError: no such wave.
    """
    ctx = gate_context(context, wave_id)
    gates: list[WaveGate] = []
    loading: list[GateResult] = []
    for name in ctx.criteria.gates:
        try:
            gates.append(load_gate(name, ctx.criteria, ctx.canonical))
        except Exception as exc:  # noqa: BLE001  (a gate that cannot load fails closed)
            loading.append(_raised(name, exc))
    results = loading + evaluate_gates(ctx, gates)
    with context.engine.connect() as conn:
        overrides = wave_row(conn, context.tenant, wave_id).gate_overrides or {}
    for result in results:
        if not result.passed and result.gate in overrides:
            result.overridden = True
            result.override_reason = overrides[result.gate].get("reason")
    report = GateReport(
        wave_id=wave_id, results=results, passed=all(r.passed or r.overridden for r in results)
    )
    for result in results:
        if not result.passed:
            count(GATE_FAILURES, gate=result.gate)
    log = AuditLog(context.engine, tenant=context.tenant)
    payload = {"gates": [r.gate for r in results]}
    with log.operation(NAMESPACE, "check_gates", target=wave_id, payload=payload) as op:
        op.outcome = {"passed": report.passed, "failed": [r.gate for r in results if not r.passed]}
        with op.atomic() as conn:
            now = utcnow()
            conn.execute(
                GATE_RESULT.insert(),
                [
                    {
                        "tenant": context.tenant,
                        "wave_id": wave_id,
                        "gate": r.gate,
                        "passed": r.passed,
                        "checked": r.checked,
                        "failing": r.failing,
                        "sample": r.sample,
                        "detail": r.detail,
                        "entry_id": op.entry_id,
                        "checked_at": now,
                    }
                    for r in results
                ],
            )
    report.entry_id = op.entry_id
    return report


def latest_gate_report(context: WaveContext, wave_id: str) -> GateReport | None:
    """The verdicts of the wave's latest gate check, with overrides applied (None: never run)."""
    tenant = context.tenant
    with context.engine.connect() as conn:
        wave = wave_row(conn, tenant, wave_id)
        last = conn.execute(
            select(func.max(GATE_RESULT.c.entry_id)).where(
                and_(GATE_RESULT.c.tenant == tenant, GATE_RESULT.c.wave_id == wave_id)
            )
        ).scalar()
        if last is None:
            return None
        rows = conn.execute(
            select(GATE_RESULT)
            .where(
                and_(
                    GATE_RESULT.c.tenant == tenant,
                    GATE_RESULT.c.wave_id == wave_id,
                    GATE_RESULT.c.entry_id == last,
                )
            )
            .order_by(GATE_RESULT.c.id)
        ).all()
    overrides = wave.gate_overrides or {}
    results = [
        GateResult(
            gate=r.gate,
            passed=r.passed,
            checked=r.checked,
            failing=r.failing,
            sample=list(r.sample),
            detail=r.detail,
            overridden=not r.passed and r.gate in overrides,
            override_reason=(overrides.get(r.gate) or {}).get("reason") if not r.passed else None,
        )
        for r in rows
    ]
    return GateReport(
        wave_id=wave_id,
        results=results,
        entry_id=last,
        passed=all(r.passed or r.overridden for r in results),
    )


#: Shortest reason an override accepts: enough for a ticket number or a word, not a keystroke.
MIN_REASON_LENGTH = 3


def override_gate(context: WaveContext, wave_id: str, *, gate: str, reason: str) -> dict[str, Any]:
    """Let a wave run although ``gate`` fails; the override and its reason are audited.

    Raises:
        InputError: no reason, or a gate the wave's plan does not check.
        NotFoundError: no such wave.
    """
    reason = reason.strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise InputError(
            f"an override needs a reason of at least {MIN_REASON_LENGTH} characters "
            f"(got {len(reason)}: {reason!r})",
            where="--reason",
            fix='say why, e.g. --reason "premiums fixed upstream, ticket 123"',
        )
    engine, tenant = context.engine, context.tenant
    with engine.connect() as conn:
        wave = wave_row(conn, tenant, wave_id)
        criteria = PlanCriteria.model_validate(plan_row(conn, tenant, wave.plan_id).criteria)
    if gate not in criteria.gates:
        raise InputError(
            f"wave {wave_id} does not check a gate '{gate}'",
            where="--override",
            fix=f"choose one of: {', '.join(criteria.gates)}",
        )
    log = AuditLog(engine, tenant=tenant)
    with log.operation(
        NAMESPACE, "override_gate", target=wave_id, payload={"gate": gate, "reason": reason}
    ) as op:
        override = {
            "reason": reason,
            "entry_id": op.entry_id,
            "actor": log.actor,
            "at": utcnow().isoformat(),
        }
        op.outcome = {"gate": gate}
        with op.atomic() as conn:
            overrides = dict(wave_row(conn, tenant, wave_id).gate_overrides or {})
            overrides[gate] = override
            update_wave(conn, tenant, wave_id, gate_overrides=overrides)
    return override
