"""The contract of a quality gate (built-ins and ``data_mash.gates`` plugins).

A gate looks at one wave before it runs and says pass or fail, with the number of failing
policies and a sample of their keys. Record gates (completeness, data quality, business rules)
also say which records fail (:meth:`RecordGate.failing`), so the planner can predict who passes
every gate (wave 0) and the gate check reads the wave's records only once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.waves.contracts import GateResult, PlanCriteria
from tools.waves.targets.base import POLICY_ID, MigrationTarget

SAMPLE_SIZE = 10


@dataclass
class GateContext:
    """What a gate may look at: the wave's canonical records, its target, its sources."""

    wave_id: str
    tenant: str
    criteria: PlanCriteria
    canonical: str
    policy_count: int
    batches: Callable[[], Iterator[pa.RecordBatch]]
    target: Callable[[], MigrationTarget]
    #: source_id -> (how many of the wave's policies come from it, a sample of their ids)
    policies_by_source: Callable[[], dict[str, tuple[int, list[str]]]]
    confidences: Callable[[str], dict[str, float] | None]
    extra: dict[str, Any] = field(default_factory=dict)
    #: source_id -> {field: {"by": who, "at": when}}: fields a person confirmed or approved
    confirmations: Callable[[str], dict[str, dict[str, str]]] = lambda _source_id: {}


@runtime_checkable
class WaveGate(Protocol):
    """A quality gate: ``check`` never lets an error pass (the caller fails it closed too)."""

    name: ClassVar[str]

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None: ...

    def check(self, ctx: GateContext) -> GateResult: ...


class RecordGate:
    """A gate decided record by record: a wave passes when no record fails."""

    name: ClassVar[str] = "record"

    def __init__(self, criteria: PlanCriteria, canonical: str = "policy_v1") -> None:
        self.criteria = criteria
        self.canonical = canonical

    def failing(self, batch: pa.RecordBatch) -> pa.Array:
        """True for every record that fails the gate (never null)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def check(self, ctx: GateContext) -> GateResult:
        tally = FailureTally(self.name, self.describe())
        for batch in ctx.batches():
            tally.add(batch, self.failing(batch))
        return tally.result()


class FailureTally:
    """Failing count and sample of one record gate over a stream of batches."""

    def __init__(self, gate: str, detail: str) -> None:
        self.gate, self.detail = gate, detail
        self.checked = self.failing = 0
        self.sample: list[str] = []

    def add(self, batch: pa.RecordBatch, failing: pa.Array) -> None:
        mask = pc.fill_null(failing, True).to_numpy(zero_copy_only=False)
        self.checked += batch.num_rows
        count = int(np.count_nonzero(mask))
        self.failing += count
        if count and len(self.sample) < SAMPLE_SIZE:
            rows = np.flatnonzero(mask)[: SAMPLE_SIZE - len(self.sample)]
            ids = batch.column(POLICY_ID).take(pa.array(rows))
            self.sample.extend(str(v) for v in ids.to_pylist())

    def result(self) -> GateResult:
        verdict = "all pass" if not self.failing else f"{self.failing} of {self.checked} fail"
        return GateResult(
            gate=self.gate,
            passed=self.failing == 0,
            checked=self.checked,
            failing=self.failing,
            sample=self.sample,
            detail=f"{self.detail}: {verdict}",
        )
