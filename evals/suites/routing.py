"""Routing suite: expected targets for the estate under the example rule set.

The canonical values of every estate policy are recomputed from the seed (the estate's ground
truth, :mod:`evals.estate_truth`), with two derived inputs made explicit because the pipeline
that normally supplies them (mapping, wave planning) is still being built:

- ``data_quality_score`` = 1 - 0.25 x (problems injected into the policy's records), floor 0;
- ``wave`` = policy number mod 5 (a stand-in plan; waves 0-3 are planned, 4 is not).

Expected targets come from :class:`evals.routing_reference.ReferenceRouter`, written apart from
``tools/routing``; the suite then routes the same table with the compiled engine
(``compile_rule_set(...).route_batch``) and with the interpreter (``evaluate_policy``) and
reports the agreement, per rule and per target, with the first disagreeing policy.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from evals.estate import pools
from evals.estate_truth import Universe, policy_number, problems, universe
from evals.result import CaseStatus, EvalConfig, SuiteResult
from evals.routing_reference import ReferenceRouter
from evals.workspace import estate_for
from knowledge.canonical import arrow_schema
from tools.routing import compile_rule_set, evaluate_policy, load_rule_set

RULES = Path(__file__).resolve().parents[2] / "knowledge" / "rules" / "example_rules.yaml"
SYSTEM_NAMES = {
    "policy_master": "policy_master",
    "agency": "agency",
    "life": "life",
    "acquired": "acquired",
}


def truth_table(u: Universe, quality: dict[str, int]) -> pa.Table:
    """Canonical routing inputs of every policy, typed as the canonical Arrow schema."""

    n = u.n
    ids = [f"P{i:09d}" for i in range(1, n + 1)]
    days = lambda a: pa.array(a.astype("datetime64[D]"), pa.date32())  # noqa: E731
    columns: dict[str, pa.Array] = {
        "policy_core.policy_id": pa.array(ids, pa.string()),
        "policy_core.status": pa.array([pools.STATUSES[s] for s in u.status.tolist()]),
        "policy_core.policy_type": pa.array([u.type_name(i) for i in range(n)]),
        "policy_core.effective_date": days(u.eff_days),
        "policy_core.expiration_date": days(u.exp_days),
        "policy_core.issue_date": days(u.issue_days),
        "policy_core.insured_party.address.state": pa.array(
            [pools.CITIES[c][1] for c in u.city.tolist()]
        ),
        "rating_components.premium_amount": pa.array(u.premium_cents / 100.0, pa.float64()),
        "payments.payment_plan": pa.array([pools.FREQUENCIES[f] for f in u.frequency.tolist()]),
        "payments.outstanding_balance": pa.array(u.balance_cents / 100.0, pa.float64()),
        "source_system": pa.array([SYSTEM_NAMES[u.system(i)] for i in range(n)]),
        "data_quality_score": pa.array(
            [max(0.0, 1 - 0.25 * quality.get(p, 0)) for p in ids], pa.float64()
        ),
        "wave": pa.array(np.arange(1, n + 1) % 5, pa.int64()),
    }
    schema = arrow_schema("policy_v1")
    for name in list(columns):
        if name in schema.names and columns[name].type != schema.field(name).type:
            columns[name] = columns[name].cast(schema.field(name).type)
    return pa.table(columns)


def run(config: EvalConfig) -> SuiteResult:
    """Route the estate's truth three ways and compare with the reference."""

    estate, manifest = estate_for(config)
    # Problems name the policy as each system writes its key; the truth table uses group ids.
    quality = Counter(
        f"P{number:09d}"
        for number in (policy_number(p["policy_id"]) for p in problems(estate))
        if number is not None
    )
    table = truth_table(universe(manifest.policies, manifest.seed), quality)
    records = table.to_pylist()
    reference = ReferenceRouter(RULES, table.column_names)
    expected = [reference.route(r) for r in records]
    rule_set = load_rule_set(RULES)
    routed = compile_rule_set(rule_set, table.schema).route_batch(table)
    engine = list(
        zip(routed.column("target").to_pylist(), routed.column("rule").to_pylist(), strict=True)
    )
    interpreted = [(d.target, d.rule) for d in (evaluate_policy(rule_set, r) for r in records)]
    result = SuiteResult(suite="routing")
    n = len(records)
    result.metrics["policies"] = n
    for label, got in (("engine", engine), ("interpreter", interpreted)):
        wrong = [i for i in range(n) if got[i] != expected[i]]
        result.metrics[f"{label}.agreement"] = 1 - len(wrong) / n if n else None
        result.metrics[f"{label}.disagreements"] = len(wrong)
        result.lower_is_better(f"{label}.disagreements")
        if wrong:
            i = wrong[0]
            result.notes.append(
                f"{label}: first disagreement {records[i]['policy_core.policy_id']}"
                f" expected {expected[i]}, got {got[i]}"
            )
    by_target = Counter(t for t, _ in expected)
    for target, count in sorted(by_target.items(), key=lambda kv: str(kv[0])):
        result.metrics[f"expected.{target}.share"] = count / n
    result.cases = _rule_cases(expected, engine, interpreted, records)
    result.notes.append(
        "inputs: truth recomputed from the seed; data_quality_score and wave are "
        "stand-ins (see evals/suites/routing.py)"
    )
    return result


def _rule_cases(
    expected: list[tuple[Any, Any]],
    engine: list[tuple[Any, Any]],
    interpreted: list[tuple[Any, Any]],
    records: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per rule: policies expected, routed by each engine, and the first difference."""
    rules = sorted(
        {r for _, r in expected} | {r for _, r in engine} | {r for _, r in interpreted}, key=str
    )
    rows = []
    for rule in rules:
        exp = sum(1 for _, r in expected if r == rule)
        eng = sum(1 for _, r in engine if r == rule)
        itp = sum(1 for _, r in interpreted if r == rule)
        diff = next(
            (
                f"{records[i]['policy_core.policy_id']}: expected {expected[i][0]} via "
                f"{expected[i][1]}, engine {engine[i][0]} via {engine[i][1]}"
                for i in range(len(records))
                if (expected[i][1] == rule or engine[i][1] == rule) and engine[i] != expected[i]
            ),
            None,
        )
        target = next((t for t, r in expected if r == rule), None)
        rows.append(
            {
                "group": "routing_rule",
                "id": str(rule),
                "target": target,
                "expected": exp,
                "engine": eng,
                "interpreter": itp,
                "status": CaseStatus.of(exp == eng == itp and diff is None),
                "first_difference": diff,
            }
        )
    return rows
