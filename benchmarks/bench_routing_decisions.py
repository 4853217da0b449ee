"""Routing decision throughput: evaluation alone vs evaluation + recording, in the same run.

Recording is what ``route_source`` does outside a dry run: per batch, a write-ahead audit entry
naming the batch's policies, then the policy moves and locations committed with the entry's
outcome in one transaction. Runs on SQLite (a fresh workspace) and on PostgreSQL when
DATA_MASH_TEST_PG_URL (or --pg-url) names a server.

    python benchmarks/bench_routing_decisions.py [--policies 350000] [--batch 50000] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _backends import per_backend, print_results  # noqa: E402

from core.settings import Settings  # noqa: E402
from core.store import open_store  # noqa: E402
from tools.routing.decisions import route_source  # noqa: E402
from tools.routing.rulesets import register_rule_set  # noqa: E402
from tools.routing.samples import sample_batches  # noqa: E402

RULES = ROOT / "knowledge" / "rules" / "example_rules.yaml"


def _measure(settings: Settings, batches: list[pa.RecordBatch]) -> dict[str, float]:
    engine = open_store(settings)
    info = register_rule_set(engine, "default", RULES)
    policies = sum(b.num_rows for b in batches)

    def run(dry: bool) -> tuple[float, object]:
        start = time.perf_counter()
        result = route_source(
            engine,
            settings,
            info.id,
            batches,
            tenant="default",
            source_id="bench",
            source_system="policy_master",
            dry_run=dry,
        )
        return time.perf_counter() - start, result

    evaluate_s, dry = run(True)
    record_s, done = run(False)
    assert done.moved == policies and done.by_target == dry.by_target  # type: ignore[attr-defined]
    resume_s, again = run(False)  # every batch already committed: the resume path
    assert again.resumed_batches == len(batches) and again.moved == policies  # type: ignore[attr-defined]
    engine.dispose()
    return {
        "policies": policies,
        "batches": len(batches),
        "evaluation_only_policies_per_s": round(policies / evaluate_s),
        "evaluation_and_recording_policies_per_s": round(policies / record_s),
        "recording_overhead_x": round(record_s / evaluate_s, 1),
        "evaluation_and_recording_s": round(record_s, 1),
        "rerun_all_batches_committed_s": round(resume_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--pg-url", default=os.environ.get("DATA_MASH_TEST_PG_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    batches = list(sample_batches(args.policies, args.batch))  # generated once, outside timing
    print_results(per_backend(lambda settings: _measure(settings, batches), args.pg_url), args.json)


if __name__ == "__main__":
    main()
