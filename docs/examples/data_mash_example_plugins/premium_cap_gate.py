"""A quality gate: no policy in a wave may carry a premium above a cap.

Registered as ``premium_cap`` in ``data_mash.gates``; add it to a plan's
``criteria.gates`` to check it before a wave runs.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from tools.waves.gates.base import RecordGate

PREMIUM = "rating_components.premium_amount"


class PremiumCapGate(RecordGate):
    """Fails every policy whose premium is above ``CAP`` (or missing)."""

    name: ClassVar[str] = "premium_cap"
    CAP: ClassVar[float] = 1_000_000.0

    def describe(self) -> str:
        return f"premium <= {self.CAP:,.0f}"

    def failing(self, batch: pa.RecordBatch) -> pa.Array:
        index = batch.schema.get_field_index(PREMIUM)
        if index < 0:  # no premium column at all: every policy fails, closed
            return pa.array([True] * batch.num_rows)
        premium = pc.cast(batch.column(index), pa.float64())
        return pc.fill_null(pc.greater(premium, self.CAP), True)
