"""The policy tracker: where a policy lives, how it got there, and whether the target agrees.

``locate_policy`` answers "where is policy 12345, and how did it get there?": its current system,
every move (wave, rule, time), the waves that hold it, a reconciliation of that one policy
(target read-back against the wave's canonical record) and its write-ahead audit trail.
``lineage`` follows it from the legacy file to the target.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import Connection, and_, bindparam, select

from core.errors import NotFoundError
from core.targets import same_target
from tools.audit import AuditLog, AuditRecord, LocationRecord, MoveRecord, PolicyLocations
from tools.canonical.repository import list_mappings
from tools.content.sources import SourceRegistry
from tools.waves.context import WaveContext
from tools.waves.state import PLAN, WAVE, WAVE_POLICY
from tools.waves.statuses import WaveState
from tools.waves.targets.base import POLICY_ID


class WaveMembership(BaseModel):
    plan_id: str
    wave_id: str
    number: int
    status: str
    target: str
    source_id: str


_MEMBERSHIP_LIST = TypeAdapter(list[WaveMembership])


class PolicyCheck(BaseModel):
    """One policy's target read-back compared with its canonical record."""

    wave_id: str
    in_target: bool
    in_canonical: bool
    matches: bool
    differences: list[str] = Field(default_factory=list, description="Fields that differ.")


class PolicyReport(BaseModel):
    """Everything known about one policy."""

    policy_id: str
    status: str = Field(description="One line: planned, migrated, routed, compensated...")
    location: LocationRecord | None
    history: list[MoveRecord]
    waves: list[WaveMembership]
    reconciliation: PolicyCheck | None
    entries: list[AuditRecord]


# Which waves hold a policy: one of the locate reads, built once.
_MEMBERSHIPS = (
    select(
        WAVE_POLICY.c.plan_id,
        WAVE_POLICY.c.wave_id,
        WAVE_POLICY.c.source_id,
        WAVE.c.number,
        WAVE.c.status,
        WAVE.c.target,
    )
    .join(
        WAVE,
        and_(WAVE.c.tenant == WAVE_POLICY.c.tenant, WAVE.c.wave_id == WAVE_POLICY.c.wave_id),
    )
    .where(
        and_(
            WAVE_POLICY.c.tenant == bindparam("tenant"),
            WAVE_POLICY.c.policy_id == bindparam("policy_id"),
        )
    )
    .order_by(WAVE.c.id)
)


def _memberships(conn: Connection, tenant: str, policy_id: str) -> list[WaveMembership]:
    rows = conn.execute(_MEMBERSHIPS, {"tenant": tenant, "policy_id": policy_id})
    return _MEMBERSHIP_LIST.validate_python([row._asdict() for row in rows])


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None}
    return value


def _find(batches: Any, policy_id: str) -> dict[str, Any] | None:
    for batch in batches:
        hit = batch.filter(pc.equal(batch.column(POLICY_ID).cast(pa.string()), policy_id))
        if hit.num_rows:
            return hit.slice(0, 1).to_pylist()[0]
    return None


def check_policy(context: WaveContext, policy_id: str, wave: WaveMembership) -> PolicyCheck:
    """Compare one policy's record in the wave's target with its canonical record."""
    folder = context.workdir(wave.wave_id) / "canonical"
    parts = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
    canonical = None
    if parts:
        dataset = ds.dataset([str(p) for p in parts], format="parquet")
        canonical = _find(dataset.to_batches(filter=pc.field(POLICY_ID) == policy_id), policy_id)
    target = context.target(wave.target)
    stored = _find(target.read_back(wave.wave_id), policy_id)
    differences: list[str] = []
    if canonical is not None and stored is not None:
        for name, value in canonical.items():
            if name in stored and _normal(value) != _normal(stored[name]):
                if not (value in (None, []) and stored[name] in (None, [])):
                    differences.append(name)
    return PolicyCheck(
        wave_id=wave.wave_id,
        in_target=stored is not None,
        in_canonical=canonical is not None,
        matches=canonical is not None and stored is not None and not differences,
        differences=differences,
    )


def _summary(location: LocationRecord | None, waves: list[WaveMembership]) -> str:
    if location is not None and location.wave:
        wave = next((w for w in waves if w.wave_id == location.wave), None)
        if wave and same_target(location.system, wave.target):
            return f"migrated to {location.system} in wave {location.wave} ({wave.status})"
    if location is not None:
        planned = [w for w in waves if w.status in (WaveState.PENDING, WaveState.COMPENSATED)]
        tail = f"; planned in wave {planned[-1].wave_id}" if planned else ""
        return f"lives in {location.system}{tail}"
    if waves:
        return f"planned in wave {waves[-1].wave_id} ({waves[-1].status}), not placed yet"
    return "unknown"


def locate_policy(context: WaveContext, policy_id: str, *, reconcile: bool = True) -> PolicyReport:
    """Where a policy lives now, its moves, its waves, a one-policy reconciliation, its trail.

    The trail's long payloads and outcomes are shortened (a batch entry names every policy of
    its batch); an entry's ``shortened`` says so, and ``AuditLog.get`` reads it whole.

    Raises:
        NotFoundError: nothing is recorded about the policy.
    """
    locations = PolicyLocations(context.engine, tenant=context.tenant)
    with context.engine.connect() as conn:  # four point reads, one pool checkout
        location = locations.locate(policy_id, conn=conn)
        history = locations.history(policy_id, conn=conn)
        waves = _memberships(conn, context.tenant, policy_id)
        log = AuditLog(context.engine, tenant=context.tenant)
        entries = log.trail(policy_id, preview=True, conn=conn)
    if location is None and not history and not waves and not entries:
        raise NotFoundError(
            f"nothing is recorded about policy '{policy_id}'",
            fix="check the id, or route/plan its source first",
        )
    check = None
    current = next((w for w in waves if location and w.wave_id == location.wave), None)
    if (
        reconcile
        and current is not None
        and current.status == WaveState.COMPLETED
        and location
        and same_target(location.system, current.target)
    ):
        try:
            check = check_policy(context, policy_id, current)
        except Exception as exc:  # noqa: BLE001  (the report still answers "where")
            check = PolicyCheck(
                wave_id=current.wave_id,
                in_target=False,
                in_canonical=False,
                matches=False,
                differences=[f"check failed: {exc}"],
            )
    return PolicyReport(
        policy_id=policy_id,
        status=_summary(location, waves),
        location=location,
        history=history,
        waves=waves,
        reconciliation=check,
        entries=entries,
    )


class LineageStep(BaseModel):
    stage: str = Field(description="source_file, source, mapping, canonical, rule, wave, target")
    value: str | None
    detail: dict[str, Any] = Field(default_factory=dict)


class PolicyLineage(BaseModel):
    """A policy's path: source file, source, mapping version, canonical, rule, wave, target."""

    policy_id: str
    steps: list[LineageStep]


def lineage(context: WaveContext, policy_id: str) -> list[LineageStep]:
    """Source file -> source_id -> mapping version -> canonical -> rule -> wave -> target."""
    report = locate_policy(context, policy_id, reconcile=False)
    wave = report.waves[-1] if report.waves else None
    steps: list[LineageStep] = []
    source_id = wave.source_id if wave else None
    info = None
    if source_id:
        info = SourceRegistry(context.engine, tenant=context.tenant).find(source_id)
    steps.append(
        LineageStep(
            stage="source_file",
            value=info.path if info else None,
            detail={"format": info.format} if info else {},
        )
    )
    steps.append(
        LineageStep(stage="source", value=source_id, detail={"system": info.system} if info else {})
    )
    mapping: dict[str, Any] = {}
    if source_id:
        try:
            found = [
                m
                for m in list_mappings(context.engine, tenant=context.tenant, source_id=source_id)
                if m.approved_version
            ]
            if found:
                mapping = {
                    "mapping_id": found[-1].mapping_id,
                    "version": found[-1].approved_version,
                }
        except Exception:  # noqa: BLE001  (lineage is best effort past the wave)
            mapping = {}
    steps.append(LineageStep(stage="mapping", value=mapping.get("mapping_id"), detail=mapping))
    canonical = None
    if wave:
        with context.engine.connect() as conn:
            canonical = conn.execute(
                select(PLAN.c.canonical).where(
                    and_(PLAN.c.tenant == context.tenant, PLAN.c.plan_id == wave.plan_id)
                )
            ).scalar()
    steps.append(
        LineageStep(
            stage="canonical",
            value=canonical,
            detail={"folder": str(context.workdir(wave.wave_id) / "canonical")} if wave else {},
        )
    )
    ruled = [m for m in report.history if m.rule]
    steps.append(
        LineageStep(
            stage="rule",
            value=ruled[-1].rule if ruled else None,
            detail={"to": ruled[-1].to_system, "reason": ruled[-1].reason} if ruled else {},
        )
    )
    steps.append(
        LineageStep(
            stage="wave",
            value=wave.wave_id if wave else None,
            detail=wave.model_dump() if wave else {},
        )
    )
    steps.append(
        LineageStep(
            stage="target",
            value=report.location.system if report.location else None,
            detail={"status": report.status},
        )
    )
    return steps
