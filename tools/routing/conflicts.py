"""Comparing stored rule-set versions against real data and against decisions already made.

``diff_stored_rule_sets`` answers "what would change if v4 replaced v3" on a source's policies;
``conflict_report`` narrows that to the policies that have already moved: those whose location
(written by an earlier routing run) a new version would contradict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from tools.routing.analysis import RuleSetDiff, diff_rule_sets
from tools.routing.compiled import ID_FIELD, compile_rule_set
from tools.routing.placements import current_locations
from tools.routing.rulesets import StoredRuleSet, get_rule_set


class Conflict(BaseModel):
    """A policy already placed whose target differs between the two versions."""

    policy_id: str
    current_system: str = Field(description="Where the policy lives now.")
    target_a: str | None
    target_b: str | None
    rule_a: str | None
    rule_b: str | None


class ConflictReport(BaseModel):
    """Already-moved policies the other rule-set version would route elsewhere."""

    rule_set_a: str
    rule_set_b: str
    checked: int = Field(description="Policies evaluated.")
    already_moved: int = Field(description="Of those, policies that have a location.")
    conflicts: int = Field(description="Already-moved policies whose target differs.")
    by_transition: dict[str, int] = Field(description="'A-target -> B-target': count.")
    sample: list[Conflict]


def _pairs(
    engine: Engine, tenant: str, a: int | str, b: int | str
) -> tuple[StoredRuleSet, StoredRuleSet]:
    return get_rule_set(engine, tenant, a), get_rule_set(engine, tenant, b)


def conflict_report(
    engine: Engine,
    rule_set_a: int | str,
    rule_set_b: int | str,
    batches: Iterable[pa.RecordBatch],
    *,
    tenant: str,
    sample_size: int = 20,
) -> ConflictReport:
    """Policies that already moved (have a location) whose target differs between A and B.

    Args:
        engine: The store.
        rule_set_a: Stored version in force (id, ``name`` or ``name@version``).
        rule_set_b: Stored version proposed.
        batches: Routable batches (canonical plus derived fields, see
            :func:`tools.routing.derived.with_derived_fields`), streamed once.
        tenant: Tenant.
        sample_size: Conflicts listed in full.
    """
    stored_a, stored_b = _pairs(engine, tenant, rule_set_a, rule_set_b)
    rules_a, rules_b = stored_a.load(), stored_b.load()
    report = ConflictReport(
        rule_set_a=stored_a.info.label,
        rule_set_b=stored_b.info.label,
        checked=0,
        already_moved=0,
        conflicts=0,
        by_transition={},
        sample=[],
    )
    transitions: Counter[str] = Counter()
    compiled = None
    for batch in batches:
        if compiled is None or compiled[0].schema != batch.schema:
            compiled = (
                compile_rule_set(rules_a, batch.schema),
                compile_rule_set(rules_b, batch.schema),
            )
        before, after = (c.route_batch(batch) for c in compiled)
        report.checked += batch.num_rows
        differs = pc.fill_null(
            pc.not_equal(before["target"], after["target"]),
            pc.xor(pc.is_null(before["target"]), pc.is_null(after["target"])),
        )
        changed = pa.table(
            {
                "id": before["policy_id"],
                "ta": before["target"],
                "tb": after["target"],
                "ra": before["rule"],
                "rb": after["rule"],
            }
        )
        with engine.connect() as conn:
            placed = current_locations(conn, tenant, before["policy_id"].to_pylist())
        report.already_moved += len(placed)
        for row in changed.filter(differs).to_pylist():
            where = placed.get(row["id"])
            if where is None:
                continue
            report.conflicts += 1
            transitions[f"{row['ta']} -> {row['tb']}"] += 1
            if len(report.sample) < sample_size:
                report.sample.append(
                    Conflict(
                        policy_id=row["id"],
                        current_system=where.system,
                        target_a=row["ta"],
                        target_b=row["tb"],
                        rule_a=row["ra"],
                        rule_b=row["rb"],
                    )
                )
    report.by_transition = dict(transitions)
    return report


def diff_stored_rule_sets(
    engine: Engine,
    old: int | str,
    new: int | str,
    batches: Iterable[pa.RecordBatch],
    *,
    tenant: str,
    sample_size: int = 20,
) -> tuple[StoredRuleSet, StoredRuleSet, RuleSetDiff]:
    """Diff two stored versions over routable batches (rule changes, counts and a sample)."""
    stored_old, stored_new = _pairs(engine, tenant, old, new)
    diff = diff_rule_sets(
        stored_old.load(), stored_new.load(), batches, id_field=ID_FIELD, sample_size=sample_size
    )
    return stored_old, stored_new, diff
