"""Routing throughput: compiled (vectorised Arrow) engine vs the per-policy interpreter.

Run: ``.venv/bin/python benchmarks/bench_routing.py [--policies 350000] [--batch-size 0]``

Generates synthetic canonical policies (numpy columns, ~5% nulls), routes them with
``knowledge/rules/example_rules.yaml`` (seed rules plus the insurer rules) through both engines
in the same run, checks that they agree, and prints policies/s and the ratio.
Required: compiled >= 5x the interpreter; goal: >= 500,000 policies/s for evaluation alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.routing import compile_rule_set, evaluate_policy, load_rule_set  # noqa: E402

RULES = ROOT / "knowledge" / "rules" / "example_rules.yaml"
STATUSES = np.array(["active"] * 6 + ["inactive", "pending", "cancelled", "expired"])
TYPES = np.array(
    [
        "auto",
        "homeowners",
        "life",
        "term_life",
        "annuity",
        "commercial_property",
        "commercial_liability",
        "umbrella",
    ]
)
STATES = np.array(["NY", "CA", "TX", "FL", "OH", "PA", "IL", "NJ", "GA", "WA"])
PLANS = np.array(["monthly", "quarterly", "annual", "semi-annual", "legacy-only"])
SYSTEMS = np.array(
    [
        "policy_master",
        "life_admin",
        "personal_lines",
        "commercial_lines",
        "agency_portal",
        "billing",
        "claims",
        "acquired_book",
    ]
)


def synthetic_policies(n: int, seed: int = 42, null_rate: float = 0.05) -> pa.Table:
    """Canonical policies as one Arrow table, built column-wise from numpy."""
    rng = np.random.default_rng(seed)

    def col(values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
        return pa.array(values, arrow_type, mask=rng.random(n) < null_rate)

    prefixes = rng.choice(np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ")), n)
    ids = np.char.add(prefixes, np.char.zfill(np.arange(n).astype(str), 8))
    effective = np.datetime64("2008-01-01") + rng.integers(0, 6200, n).astype("timedelta64[D]")
    return pa.table(
        {
            "policy_core.policy_id": pa.array(ids, pa.string()),  # the key is never null
            "policy_core.status": col(rng.choice(STATUSES, n), pa.string()),
            "policy_core.policy_type": col(rng.choice(TYPES, n), pa.string()),
            "policy_core.issue_date": col(effective - 30, pa.date32()),
            "policy_core.effective_date": col(effective, pa.date32()),
            "policy_core.expiration_date": col(effective + 365, pa.date32()),
            "policy_core.insured_party.address.state": col(rng.choice(STATES, n), pa.string()),
            "rating_components.premium_amount": col(
                np.round(rng.lognormal(7.5, 1.6, n) - 30, 2), pa.float64()
            ),
            "payments.payment_plan": col(
                rng.choice(PLANS, n, p=[0.4, 0.2, 0.3, 0.08, 0.02]), pa.string()
            ),
            "payments.outstanding_balance": col(
                np.where(rng.random(n) < 0.2, np.round(rng.random(n) * 900, 2), 0.0),
                pa.float64(),
            ),
            "data_quality_score": col(np.round(1 - rng.beta(1.2, 8, n), 3), pa.float64()),
            "source_system": col(rng.choice(SYSTEMS, n), pa.string()),
            "wave": col(rng.integers(0, 6, n), pa.int64()),
        }
    )


def best_of(runs: int, func: object) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch-size", type=int, default=0, help="0: one batch")
    parser.add_argument("--runs", type=int, default=3, help="compiled runs (best counts)")
    args = parser.parse_args()

    rule_set = load_rule_set(RULES)
    start = time.perf_counter()
    table = synthetic_policies(args.policies)
    print(
        f"generated {table.num_rows:,} policies in {time.perf_counter() - start:.2f} s; "
        f"{len(rule_set.rules)} rules from {RULES.relative_to(ROOT)}"
    )
    if args.batch_size:
        table = pa.Table.from_batches(table.to_batches(max_chunksize=args.batch_size))

    compile_s, compiled = best_of(1, lambda: compile_rule_set(rule_set, table.schema))
    route_s, routed = best_of(args.runs, lambda: compiled.route_batch(table))  # type: ignore[union-attr]

    start = time.perf_counter()
    records = table.to_pylist()
    to_dicts_s = time.perf_counter() - start
    start = time.perf_counter()
    decisions = [evaluate_policy(rule_set, record) for record in records]
    interpret_s = time.perf_counter() - start

    compiled_targets = routed.column("target").to_pylist()  # type: ignore[union-attr]
    mismatches = sum(a != d.target for a, d in zip(compiled_targets, decisions, strict=True))
    n = table.num_rows
    compiled_rate, interpreted_rate = n / route_s, n / interpret_s
    ratio = compiled_rate / interpreted_rate
    print(f"compile_rule_set:        {compile_s * 1000:8.1f} ms")
    print(
        f"compiled route_batch:    {route_s:8.3f} s  {compiled_rate:>12,.0f} policies/s "
        f"(best of {args.runs})"
    )
    print(
        f"interpreter (dicts):     {interpret_s:8.3f} s  {interpreted_rate:>12,.0f} policies/s "
        f"(+{to_dicts_s:.2f} s for Table.to_pylist, not counted)"
    )
    print(f"ratio compiled/interpreter: {ratio:,.1f}x (required >= 5x)")
    print(f"goal >= 500,000 policies/s: {'met' if compiled_rate >= 500_000 else 'NOT met'}")
    counts = routed.group_by("rule").aggregate([([], "count_all")])  # type: ignore[union-attr]
    for row in sorted(counts.to_pylist(), key=lambda r: -r["count_all"]):
        print(f"  {row['rule']!s:32} {row['count_all']:>8,}")
    if mismatches:
        print(f"ERROR: {mismatches} policies routed differently by the two engines")
        return 1
    if ratio < 5:
        print("ERROR: compiled engine is less than 5x the interpreter")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
