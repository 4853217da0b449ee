"""What a rule set would do to a population: dry runs and rule-set version diffs (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.routing.compiled import ID_FIELD, CompiledRuleSet, compile_rule_set
from tools.routing.model import Rule, RuleSet, render_condition

SAMPLE_SIZE = 5
UNROUTED = "(no rule)"


@dataclass
class Distribution:
    """Where a population would go: counts by target and rule, sample ids per rule."""

    total: int = 0
    by_target: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    unrouted: int = 0


def _batches(data: Iterable[pa.RecordBatch | pa.Table]) -> Iterable[pa.RecordBatch]:
    for item in data:
        yield from item.to_batches() if isinstance(item, pa.Table) else [item]


def _indices(compiled: CompiledRuleSet, batch: pa.RecordBatch) -> np.ndarray:
    """Rule index per row as numpy, -1 where nothing matched."""
    return pc.fill_null(compiled.rule_indices(batch), -1).to_numpy(zero_copy_only=False)


def dry_run(
    compiled: CompiledRuleSet,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    sample_size: int = SAMPLE_SIZE,
) -> Distribution:
    """Count where each policy would be routed, without routing anything.

    Args:
        compiled: The compiled rule set.
        batches: Canonical record batches (or tables), streamed once.
        sample_size: Policy ids kept per rule (and for unrouted policies, under ``(no rule)``).

    Returns:
        Totals by target and by rule (every rule listed, zero included) plus samples.
    """
    rules = compiled.rule_set.rules
    counts = np.zeros(len(rules) + 1, np.int64)  # last slot: unrouted
    samples: dict[int, list[str]] = {i: [] for i in range(-1, len(rules))}
    total = 0
    for batch in _batches(batches):
        indices = _indices(compiled, batch)
        total += len(indices)
        counts += np.bincount(indices + 1, minlength=len(rules) + 1)[np.r_[1 : len(rules) + 1, 0]]
        ids = None
        for rule_index, kept in samples.items():
            need = sample_size - len(kept)
            if need <= 0:
                continue
            rows = np.flatnonzero(indices == rule_index)[:need]
            if rows.size:
                if ids is None:
                    ids = batch.column(compiled.id_field).cast(pa.string())
                kept.extend(ids.take(pa.array(rows)).to_pylist())
    by_rule = {rule.name: int(counts[i]) for i, rule in enumerate(rules)}
    by_target: Counter[str] = Counter()
    for rule in rules:
        by_target[rule.target] += by_rule[rule.name]
    named = {rules[i].name if i >= 0 else UNROUTED: ids for i, ids in samples.items() if ids}
    return Distribution(
        total=total,
        by_target={t: n for t, n in by_target.items() if n},
        by_rule=by_rule,
        samples=named,
        unrouted=int(counts[-1]),
    )


@dataclass(frozen=True)
class RuleChange:
    """One rule present in both versions whose definition changed: attribute -> (old, new)."""

    name: str
    changes: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class PolicyChange:
    """A policy whose routing differs between two rule-set versions."""

    policy_id: str
    old_target: str | None
    new_target: str | None
    old_rule: str | None
    new_rule: str | None


@dataclass
class RuleSetDiff:
    """Rule-level and policy-level differences between two rule-set versions."""

    old_version: str
    new_version: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[RuleChange] = field(default_factory=list)
    total: int = 0
    changed_count: int = 0
    transitions: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    sample: list[PolicyChange] = field(default_factory=list)


def _rule_changes(old: Rule, new: Rule) -> dict[str, tuple[str, str]]:
    changes = {}
    if old.condition != new.condition:
        changes["condition"] = (render_condition(old.condition), render_condition(new.condition))
    for attribute in ("target", "priority", "description"):
        before, after = getattr(old, attribute), getattr(new, attribute)
        if before != after:
            changes[attribute] = (str(before), str(after))
    return changes


def diff_rule_sets(
    old: RuleSet,
    new: RuleSet,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    id_field: str = ID_FIELD,
    sample_size: int = 20,
) -> RuleSetDiff:
    """Compare two rule-set versions: changed rules, and policies whose target would change.

    Args:
        old: The rule set in force.
        new: The candidate rule set.
        batches: Canonical record batches routed by both versions (streamed once).
        id_field: Policy id column.
        sample_size: How many changed policies to keep as examples.

    Returns:
        Added/removed/changed rules, the count of policies whose target changes, the
        (old target, new target) transitions and a sample.
    """
    old_rules = {r.name: r for r in old.rules}
    new_rules = {r.name: r for r in new.rules}
    diff = RuleSetDiff(old.version, new.version)
    diff.added = [name for name in new_rules if name not in old_rules]
    diff.removed = [name for name in old_rules if name not in new_rules]
    for name in (n for n in new_rules if n in old_rules):
        changes = _rule_changes(old_rules[name], new_rules[name])
        if changes:
            diff.changed.append(RuleChange(name, changes))
    compiled: dict[pa.Schema, tuple[CompiledRuleSet, CompiledRuleSet]] = {}
    transitions: Counter[tuple[str | None, str | None]] = Counter()
    for batch in _batches(batches):
        if batch.schema not in compiled:
            compiled[batch.schema] = (
                compile_rule_set(old, batch.schema, id_field=id_field),
                compile_rule_set(new, batch.schema, id_field=id_field),
            )
        before, after = (c.route_batch(batch) for c in compiled[batch.schema])
        diff.total += batch.num_rows
        moved = pc.fill_null(
            pc.not_equal(before["target"], after["target"]),
            pc.xor(pc.is_null(before["target"]), pc.is_null(after["target"])),
        )
        rows = pc.filter(pa.table({"o": before["target"], "n": after["target"]}), moved)
        diff.changed_count += rows.num_rows
        if rows.num_rows:
            pairs = rows.group_by(["o", "n"]).aggregate([([], "count_all")]).to_pylist()
            for pair in pairs:
                transitions[(pair["o"], pair["n"])] += pair["count_all"]
        need = sample_size - len(diff.sample)
        if need > 0 and rows.num_rows:
            picked = pc.filter(
                pa.table(
                    {
                        "id": before["policy_id"],
                        "ot": before["target"],
                        "nt": after["target"],
                        "orule": before["rule"],
                        "nrule": after["rule"],
                    }
                ),
                moved,
            ).slice(0, need)
            diff.sample.extend(PolicyChange(*row.values()) for row in picked.to_pylist())
    diff.transitions = dict(transitions)
    return diff
