"""The waves' contracts: plans, wave status, gate verdicts (pydantic models, never ORM objects)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from core.ids import WaveId
from core.store.models import as_utc
from tools.waves.reconcile import ReconciliationReport
from tools.waves.statuses import WaveState


class PlanCriteria(BaseModel):
    """How a plan groups policies into waves, and the thresholds its quality gates apply."""

    max_wave_size: int = Field(25_000, ge=1, description="Size cap of every wave after wave 0.")
    wave0_max_size: int | None = Field(None, ge=1, description="Cap of wave 0 (None: no cap).")
    complexity_bounds: tuple[int, int] = Field(
        (1, 3),
        description="Coverage counts up to the first are simple, up to the second "
        "moderate, above it complex.",
    )
    start_date: date | None = Field(None, description="Date of wave 0; later waves follow.")
    days_between_waves: int = Field(7, ge=0)
    completeness_min: float = Field(
        1.0, ge=0, le=1, description="Share of required fields a policy must fill."
    )
    required_fields: list[str] | None = Field(
        None, description="Default: the canonical model's mandatory fields."
    )
    quality_min: float = Field(0.8, ge=0, le=1, description="Minimum data quality score.")
    confidence_min: float = Field(0.7, ge=0, le=1, description="Minimum mapping confidence.")
    business_rules: list[str] = Field(
        default_factory=lambda: ["expiration_date > effective_date", "premium_amount > 0"],
        description="Expressions every policy must satisfy (see tools.waves.expressions).",
    )
    gates: list[str] = Field(
        default_factory=lambda: [
            "completeness",
            "data_quality",
            "mapping_confidence",
            "business_rules",
            "target_readiness",
        ],
        description="Gates (data_mash.gates entry-point names) checked before a wave runs.",
    )
    rule_set: str | None = Field(
        None,
        description="Stored routing rule set the route "
        "milestone applies; None keeps the existing decisions.",
    )
    target_config: dict[str, Any] = Field(default_factory=dict)
    batch_size: int | None = Field(
        None, ge=1, description="Records per saga batch (default: settings.batch_size)."
    )


class WaveSummary(BaseModel):
    """One wave of a plan."""

    wave_id: str
    number: int
    label: str
    target: str
    status: WaveState
    policy_count: int
    scheduled_for: date | None


class Plan(BaseModel):
    """A stored wave plan."""

    plan_id: str
    version: int
    target: str
    canonical: str
    source_ids: list[str] = Field(
        description="The plan's inputs: ingested sources, or assemblies (asm-...) of whole "
        "policies."
    )
    assembly_ids: list[str] = Field(
        default_factory=list,
        description="The assemblies among the inputs: the waves migrate whole policies.",
    )
    criteria: PlanCriteria
    summary: dict[str, Any]
    waves: list[WaveSummary]
    created_at: datetime
    updated_at: datetime

    _stamps = field_validator("created_at", "updated_at")(as_utc)


class PlanList(BaseModel):
    """Every plan of a tenant with its waves: `data-mash plan list --json`."""

    plans: list[Plan]


class StepState(BaseModel):
    """The state of one milestone of a wave's saga."""

    status: WaveState = WaveState.PENDING
    entry_id: int | None = None
    batches: int = 0
    resumed_batches: int = 0
    outcome: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    compensation_entry_id: int | None = None


class WaveStatus(BaseModel):
    """Where a wave's saga stands: overall status, per-milestone state, counts."""

    wave_id: str
    plan_id: str
    number: int
    label: str
    target: str
    status: WaveState
    steps: dict[str, StepState]
    policy_count: int
    migrated: int
    failed: int
    validation: dict[str, Any] | None
    gate_overrides: dict[str, Any]
    error: str | None
    run_no: int
    started_at: datetime | None
    finished_at: datetime | None

    _stamps = field_validator("started_at", "finished_at")(as_utc)


class WaveList(BaseModel):
    """Every wave of a tenant (or of one plan): `data-mash wave list --json`."""

    waves: list[WaveStatus]


class RollbackPreview(WaveStatus):
    """`data-mash wave rollback --dry-run --json`: the wave, and what a rollback would undo."""

    dry_run: bool = True
    would_compensate: list[str] = Field(description="Milestones to compensate, newest first.")


class GateResult(BaseModel):
    """One gate's verdict on a wave."""

    gate: str
    passed: bool
    checked: int = Field(0, description="Policies (or checks) examined.")
    failing: int = Field(0, description="Policies that fail the gate.")
    sample: list[str] = Field(default_factory=list, description="Some failing policy ids.")
    detail: str = ""
    overridden: bool = False
    override_reason: str | None = None
    confirmations: dict[str, str] = Field(
        default_factory=dict,
        description="Checks a person vouched for instead (source:field -> who at when).",
    )


class GateReport(BaseModel):
    """Every gate's verdict on a wave, and whether the wave may run."""

    wave_id: str
    passed: bool = Field(description="True when every gate passed or was overridden.")
    results: list[GateResult]
    entry_id: int | None = None


class WaveReconciliation(BaseModel):
    """Source (canonical) against target for one wave."""

    wave_id: WaveId
    passed: bool
    report: ReconciliationReport


class GateOverride(BaseModel):
    """A gate a wave may pass although it fails, and the audit entry of the decision."""

    wave_id: WaveId
    gate: str
    reason: str
    entry_id: int = Field(description="Audit log entry of the override.")
