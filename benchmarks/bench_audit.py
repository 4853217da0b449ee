"""Audit-log throughput: group-committed policies/s and single-operation write-ahead latency.

Runs on SQLite (a fresh workspace) and on PostgreSQL when DATA_MASH_TEST_PG_URL (or --pg-url)
names a server. Baseline in the same run: one transaction per policy (what group commit avoids).

    python benchmarks/bench_audit.py [--policies 350000] [--batch 5000] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _backends import per_backend, print_results

from core.settings import Settings
from core.store import open_store
from tools.audit import AuditLog


def _measure(settings: Settings, policies: int, batch: int, singles: int) -> dict[str, float]:
    engine = open_store(settings)
    log = AuditLog(engine, actor="bench")
    ids = [f"P{i:08d}" for i in range(policies)]
    start = time.perf_counter()
    for offset in range(0, policies, batch):
        with log.operation(
            "bench", "batch", idempotency_key=f"b{offset}", policy_ids=ids[offset : offset + batch]
        ) as op:
            op.outcome = {"n": batch}
    group_rate = policies / (time.perf_counter() - start)

    latencies = []
    for i in range(singles):
        t0 = time.perf_counter()
        with log.operation("bench", "single", target=f"S{i}") as op:
            op.outcome = {"ok": True}
        latencies.append((time.perf_counter() - t0) * 1000)

    # Baseline: the naive way, one audited transaction per policy.
    naive_n = min(2000, policies)
    t0 = time.perf_counter()
    for pid in ids[:naive_n]:
        with log.operation("bench", "per_policy", policy_ids=[pid]) as op:
            op.outcome = {"n": 1}
    naive_rate = naive_n / (time.perf_counter() - t0)
    engine.dispose()
    return {
        "group_commit_policies_per_s": round(group_rate),
        "per_policy_transactions_policies_per_s": round(naive_rate),
        "speedup_vs_per_policy": round(group_rate / naive_rate, 1),
        "single_op_latency_ms_p50": round(statistics.median(latencies), 2),
        "single_op_latency_ms_p95": round(sorted(latencies)[int(len(latencies) * 0.95)], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--pg-url", default=os.environ.get("DATA_MASH_TEST_PG_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def measure(settings: Settings) -> dict[str, float]:
        return _measure(settings, args.policies, args.batch, args.singles)

    print_results(per_backend(measure, args.pg_url), args.json)


if __name__ == "__main__":
    main()
