"""Overhead of the wave lease: the same wave with and without it, in the same run.

Run: ``.venv/bin/python benchmarks/bench_wave_lease.py [--policies 35000] [--rounds 3]``

Each round builds two identical workspaces (SQLite store, N clean canonical policies, one plan,
wave 0 holds all of them) and runs wave 0 in each, in alternating order: once through
``run_wave`` (which holds the store lease ``wave:<id>`` with its heartbeat thread) and once through
the saga without the lease (``tools.waves.run._run``, the same code minus the lease). After one
discarded warm-up wave, reports the wall and CPU time of each and the median ratios with/without
(issue 13's goal: <= 1.02). A micro
benchmark of acquire + release alone puts the fixed cost in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _workspace(folder: Path, n: int, batch: int) -> tuple[Any, str]:
    from bench_wave import parquet_batches, register_source

    from core.settings import Settings
    from core.store import open_store
    from tools.waves import PlanCriteria, WaveContext, generate_plan
    from tools.waves.reconcile import reconcile

    home = Path(tempfile.mkdtemp(prefix="bench-lease-"))
    settings = Settings(home=home, batch_size=batch)
    engine = open_store(settings)
    register_source(engine, home, folder, n)
    context = WaveContext(
        engine=engine,
        settings=settings,
        tenant="default",
        canonical_source=parquet_batches(folder, batch),
        confidence_source=lambda _: {"policy_core.policy_id": 1.0},
        reconciler=reconcile,
    )
    plan = generate_plan(
        context,
        source_ids=["bench"],
        target="new_platform",
        criteria=PlanCriteria(batch_size=batch, max_wave_size=n + 1),
    )
    return context, plan.waves[0].wave_id


def _timed_wave(context: Any, wave_id: str, *, lease: bool) -> tuple[float, float]:
    from tools.waves import run_wave
    from tools.waves.milestones import default_milestones
    from tools.waves.run import _run

    start, cpu = time.perf_counter(), time.process_time()
    if lease:
        status = run_wave(context, wave_id)
    else:  # the same saga without the lease (the private entry run_wave wraps)
        status = _run(context, wave_id, default_milestones(), None, None)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    assert status.status == "completed", status.error
    return seconds, cpu_seconds


def _lease_cycle_ms(context: Any, cycles: int = 200) -> float:
    from core.store.leases import acquire_lease, release_lease

    start = time.perf_counter()
    for i in range(cycles):
        release_lease(
            context.engine, acquire_lease(context.engine, "default", f"bench:{i}", what="bench")
        )
    return (time.perf_counter() - start) / cycles * 1000


def main() -> None:
    from bench_wave import write_estate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=35_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-lease-estate-"))
    write_estate(folder, args.policies)
    # Warm-up (discarded): imports, caches and the target's first schema creation.
    _timed_wave(*_workspace(folder, args.policies, args.batch_size), lease=False)
    rounds = []
    for number in range(args.rounds):
        with_lease, without = (
            _workspace(folder, args.policies, args.batch_size),
            _workspace(folder, args.policies, args.batch_size),
        )
        order = [True, False] if number % 2 == 0 else [False, True]
        times: dict[bool, tuple[float, float]] = {}
        for lease in order:
            context, wave_id = with_lease if lease else without
            times[lease] = _timed_wave(context, wave_id, lease=lease)
        rounds.append(
            {
                "with_lease_s": round(times[True][0], 2),
                "without_lease_s": round(times[False][0], 2),
                "ratio": round(times[True][0] / times[False][0], 4),
                # CPU seconds of this process (the heartbeat thread included): steadier than
                # wall time on a shared machine.
                "with_lease_cpu_s": round(times[True][1], 2),
                "without_lease_cpu_s": round(times[False][1], 2),
                "cpu_ratio": round(times[True][1] / times[False][1], 4),
            }
        )
    cycle_ms = _lease_cycle_ms(with_lease[0])
    result = {
        "policies": args.policies,
        "batch_size": args.batch_size,
        "rounds": rounds,
        "median_ratio": round(statistics.median(r["ratio"] for r in rounds), 4),
        "median_cpu_ratio": round(statistics.median(r["cpu_ratio"] for r in rounds), 4),
        "lease_acquire_release_ms": round(cycle_ms, 2),
        "lease_share_of_wave": round(
            cycle_ms / 1000 / statistics.median(r["without_lease_s"] for r in rounds), 6
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
