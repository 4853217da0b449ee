"""Confidence calibration: how often the matcher's proposed fields survived a person's review,
by the confidence it gave them.

The proposal is what the write-ahead log recorded when the mapping was created (its
``create_mapping`` entry holds every proposed rule with its confidence; later edits overwrite the
rule, and an edited rule's stored confidence becomes 1.0). The outcome is the mapping as it
stands (the approved version when there is one, else the latest): a proposed field whose rule a
person confirmed (by editing it, or by approving the mapping) with the same source column was
*accepted*; one they re-pointed, unmapped or rejected was *corrected*; one nobody reviewed yet
counts in neither. A calibrated matcher accepts about 90 % of what it gives 0.9.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, select

from core.settings import DEFAULT_TENANT
from core.store.models import AuditEntry, table_of
from tools.canonical.repository import NAMESPACE, get_mapping, list_mappings
from tools.canonical.spec import FieldRule

ENTRY = table_of(AuditEntry)
#: Confidence bins: [0, 0.5) then tenths up to 1.0 (inclusive).
EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class CalibrationBin(BaseModel):
    """Reviewed proposals whose confidence fell in ``[low, high)`` (the last bin includes 1.0)."""

    low: float
    high: float
    reviewed: int = Field(description="Proposed fields a person has reviewed.")
    accepted: int = Field(description="Of those, kept as proposed (same source column).")
    mean_confidence: float | None = Field(description="Mean proposed confidence; None if empty.")

    @property
    def accepted_share(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None


class Calibration(BaseModel):
    """The matcher's proposed confidence against what people kept, over every mapping."""

    bins: list[CalibrationBin]
    reviewed: int
    accepted: int
    pending: int = Field(description="Proposed fields nobody has reviewed yet (not counted).")
    mappings: int = Field(description="Mappings whose proposal is in the audit log.")


def _bin_of(confidence: float) -> int:
    for index in range(len(EDGES) - 2, -1, -1):
        if confidence >= EDGES[index]:
            return index
    return 0


def calibration(engine: Engine, *, tenant: str = DEFAULT_TENANT) -> Calibration:
    """Proposed confidence against review outcome, per confidence bin (one read per mapping)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRY.c.target, ENTRY.c.payload)
            .where(
                and_(
                    ENTRY.c.tenant == tenant,
                    ENTRY.c.namespace == NAMESPACE,
                    ENTRY.c.operation == "create_mapping",
                    ENTRY.c.status == "ok",
                )
            )
            .order_by(ENTRY.c.id)
        ).all()
    proposals = {row.target: row.payload.get("rules") or [] for row in rows if row.target}
    totals = [[0, 0, 0.0] for _ in EDGES[:-1]]  # reviewed, accepted, sum of confidence
    pending = counted = 0
    for summary in list_mappings(engine, tenant=tenant):
        proposed = proposals.get(summary.mapping_id)
        if proposed is None:
            continue
        counted += 1
        outcome = get_mapping(
            engine, summary.mapping_id, tenant=tenant, version=summary.approved_version
        )
        for raw in proposed:
            rule = FieldRule.model_validate(raw)
            if not rule.mapped or rule.source is None:
                continue  # nothing proposed for this field
            final = outcome.rule_for(rule.target)
            if final is None or not final.confirmed:
                pending += 1
                continue
            kept = final.mapped and final.source == rule.source
            slot = totals[_bin_of(rule.confidence)]
            slot[0] += 1
            slot[1] += int(kept)
            slot[2] += rule.confidence
    bins = [
        CalibrationBin(
            low=EDGES[i],
            high=EDGES[i + 1],
            reviewed=int(reviewed),
            accepted=int(accepted),
            mean_confidence=round(total / reviewed, 4) if reviewed else None,
        )
        for i, (reviewed, accepted, total) in enumerate(totals)
    ]
    return Calibration(
        bins=bins,
        reviewed=sum(b.reviewed for b in bins),
        accepted=sum(b.accepted for b in bins),
        pending=pending,
        mappings=counted,
    )
