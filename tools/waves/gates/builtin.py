"""The built-in quality gates: completeness, data quality, mapping confidence, business rules,
target readiness. They register under ``data_mash.gates`` like any plugin."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.canonical.catalogue import mandatory_paths
from tools.routing.derived import quality_scores
from tools.waves.contracts import GateResult, PlanCriteria
from tools.waves.expressions import Node, check_rule, evaluate_rule
from tools.waves.gates.base import SAMPLE_SIZE, GateContext, RecordGate

QUALITY_COLUMN = "data_quality_score"


class CompletenessGate(RecordGate):
    """Every policy fills at least ``completeness_min`` of the required canonical fields."""

    name: ClassVar[str] = "completeness"

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None:
        super().__init__(criteria, canonical)
        if criteria.required_fields is not None:
            self.required = list(criteria.required_fields)
        else:
            self.required = mandatory_paths(canonical)

    def describe(self) -> str:
        return (
            f"completeness >= {self.criteria.completeness_min:g} of "
            f"{len(self.required)} required fields"
        )

    def failing(self, batch: pa.RecordBatch) -> pa.Array:
        present = np.zeros(batch.num_rows, np.int32)
        for path in self.required:
            index = batch.schema.get_field_index(path)
            if index >= 0:
                column = batch.column(index)
                valid = pc.is_valid(column)
                if pa.types.is_string(column.type):
                    valid = pc.and_(
                        valid, pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)
                    )
                present += pc.fill_null(valid, False).to_numpy(zero_copy_only=False)
        share = present / max(len(self.required), 1)
        return pa.array(share < self.criteria.completeness_min - 1e-9)


class DataQualityGate(RecordGate):
    """Every policy's data quality score is at least ``quality_min``."""

    name: ClassVar[str] = "data_quality"

    def describe(self) -> str:
        return f"data quality score >= {self.criteria.quality_min:g}"

    def failing(self, batch: pa.RecordBatch) -> pa.Array:
        index = batch.schema.get_field_index(QUALITY_COLUMN)
        if index >= 0:
            scores = batch.column(index)
        else:
            scores = quality_scores(batch, canonical=self.canonical)
        return pc.fill_null(pc.less(scores, self.criteria.quality_min), True)


class BusinessRulesGate(RecordGate):
    """Every policy satisfies every configured business rule (a missing value fails)."""

    name: ClassVar[str] = "business_rules"

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None:
        super().__init__(criteria, canonical)
        self.rules = list(criteria.business_rules)
        self._compiled: dict[tuple[str, ...], list[Node]] = {}

    def describe(self) -> str:
        return "rules " + "; ".join(self.rules) if self.rules else "no business rules"

    def failing(self, batch: pa.RecordBatch) -> pa.Array:
        names = tuple(batch.schema.names)
        if names not in self._compiled:
            self._compiled[names] = [check_rule(rule, list(names)) for rule in self.rules]
        ok = pa.array(np.ones(batch.num_rows, np.bool_))
        for rule, node in zip(self.rules, self._compiled[names], strict=True):
            ok = pc.and_(ok, evaluate_rule(rule, batch, node))
        return pc.invert(ok)


class MappingConfidenceGate:
    """Every field the wave's mappings fill is confident enough, or a person confirmed it.

    A field proposed below ``confidence_min`` that a person confirmed (edited it, or approved the
    mapping holding it) passes, and the verdict says who and when; only fields nobody confirmed
    block the wave.
    """

    name: ClassVar[str] = "mapping_confidence"

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None:
        self.criteria = criteria

    def check(self, ctx: GateContext) -> GateResult:
        minimum = self.criteria.confidence_min
        problems: list[str] = []
        failing = checked = 0
        sample: list[str] = []
        vouched: dict[str, str] = {}
        for source_id, (count, policy_ids) in ctx.policies_by_source().items():
            checked += count
            confidences = ctx.confidences(source_id)
            if confidences is None:
                problems.append(f"{source_id}: no approved mapping")
            else:
                confirmed = ctx.confirmations(source_id)
                below = sorted(f for f, c in confidences.items() if c < minimum)
                for name in below:
                    if name in confirmed:
                        who = confirmed[name]
                        vouched[f"{source_id}:{name}"] = f"{who['by']} at {who['at']}".strip()
                low = [f for f in below if f not in confirmed]
                if not low:
                    continue
                problems.append(
                    f"{source_id}: {len(low)} field(s) below {minimum:g} that nobody confirmed "
                    f"({', '.join(low[:5])})"
                )
            failing += count
            sample.extend(policy_ids[: max(0, SAMPLE_SIZE - len(sample))])
        detail = "; ".join(problems) if problems else f"every field >= {minimum:g}"
        if vouched:
            shown = ", ".join(f"{k.split(':', 1)[1]} by {v}" for k, v in list(vouched.items())[:5])
            detail += f"; {len(vouched)} field(s) below {minimum:g} confirmed by a person ({shown})"
        return GateResult(
            gate=self.name,
            passed=not problems,
            checked=checked,
            failing=failing,
            sample=sample,
            detail=f"mapping confidence: {detail}",
            confirmations=vouched,
        )


class TargetReadinessGate:
    """The wave's target says it can take writes now (``target.health()``)."""

    name: ClassVar[str] = "target_readiness"

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None:
        self.criteria = criteria

    def check(self, ctx: GateContext) -> GateResult:
        health = ctx.target().health()
        return GateResult(
            gate=self.name,
            passed=bool(health.ok),
            checked=1,
            failing=0 if health.ok else ctx.policy_count,
            detail=f"target: {health.detail}",
        )


BUILTIN_GATES: dict[str, type] = {
    gate.name: gate
    for gate in (
        CompletenessGate,
        DataQualityGate,
        MappingConfidenceGate,
        BusinessRulesGate,
        TargetReadinessGate,
    )
}
