"""A whole wave saga into new_platform on SQLite: wall time, peak memory, work redone on resume.

Run: ``.venv/bin/python benchmarks/bench_wave.py [--policies 350000] [--batch-size 10000]``

Writes N synthetic canonical policies as Parquet, registers the source, plans (every policy is
clean, so wave 0 holds all of them), then runs wave 0 in a child process (ingest, map, route,
migrate, validate with the real reconciliation). A second run SIGKILLs the child at ~60% of the
migrate milestone (after a batch's target write, before its commit) and resumes in a new child.
Goals: < 2 min wall for 350k; peak RSS < 1 GiB and within 1.5x the 35k peak; at most one batch
redone on resume.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_estate(folder: Path, n: int, part_rows: int = 50_000) -> None:
    from knowledge.canonical.arrow import arrow_schema

    schema = arrow_schema("policy_v1")
    rng = np.random.default_rng(42)
    folder.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, n, part_rows)):
        rows = min(part_rows, n - start)
        eff = np.datetime64("2015-01-01") + rng.integers(0, 3000, rows).astype("timedelta64[D]")
        premium = np.round(rng.uniform(100, 5000, rows), 2)
        table = pa.table(
            {
                "policy_core.policy_id": pa.array(
                    [f"P{i:08d}" for i in range(start, start + rows)]
                ),
                "policy_core.status": pa.array(np.full(rows, "active")),
                "policy_core.effective_date": pa.array(eff, pa.date32()),
                "policy_core.expiration_date": pa.array(eff + 365, pa.date32()),
                "policy_core.policy_type": pa.array(
                    rng.choice(["auto", "homeowners", "life"], rows)
                ),
                "policy_core.insured_party.address.state": pa.array(rng.choice(["NY", "CA"], rows)),
                "rating_components.premium_amount": pa.array(premium).cast(
                    schema.field("rating_components.premium_amount").type
                ),
            }
        )
        pq.write_table(table, folder / f"part-{part:05d}.parquet")


def register_source(engine: Any, home: Path, folder: Path, n: int) -> None:
    """Register ``folder``'s canonical Parquet as source ``bench`` (clean, no ingest needed)."""
    from core.store.models import SourceRow, table_of, utcnow

    (home / "staging").mkdir(parents=True, exist_ok=True)
    with engine.begin() as conn:
        conn.execute(
            table_of(SourceRow)
            .insert()
            .values(
                tenant="default",
                source_id="bench",
                name="bench",
                system="policy_master",
                path=str(folder),
                format="parquet",
                options={},
                content_sha256="0" * 64,
                size_bytes=1,
                records=n,
                bad_records=0,
                columns=[],
                staging_dir=str(home / "staging"),
                created_at=utcnow(),
            )
        )


def parquet_batches(folder: Path, batch: int) -> Callable[[str], Iterator[pa.RecordBatch]]:
    """A WaveContext canonical_source reading ``folder``'s Parquet parts in ``batch`` rows."""
    return lambda _source_id: (
        b
        for part in sorted(folder.glob("*.parquet"))
        for b in pq.ParquetFile(part).iter_batches(batch_size=batch, use_threads=False)
    )


CHILD = r"""
import json, os, signal, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import pyarrow.dataset as ds
from core.settings import Settings
from core.store import open_store
from tools.waves import run_wave, saga
from tools.waves.context import WaveContext
from tools.waves.reconcile import reconcile
home, folder, wave_id, kill_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = Settings(home=home, batch_size=int(sys.argv[5]))
engine = open_store(settings)
def canonical(source_id):
    import pyarrow.parquet as pq
    for part in sorted(Path(folder).glob("*.parquet")):
        yield from pq.ParquetFile(part).iter_batches(batch_size=settings.batch_size,
                                                     use_threads=False)
wave_context = WaveContext(engine=engine, settings=settings, tenant="default",
                        canonical_source=canonical, confidence_source=lambda s: {{"x": 1.0}},
                        reconciler=reconcile)
spans = {{}}  # milestone -> [first batch started, last batch committed] (perf_counter)
def hook(point, milestone, batch_no):
    if (point, milestone, batch_no) == ("after_work", "migrate", kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
    if point == "before_work":
        spans.setdefault(milestone, [time.perf_counter(), None])
    elif point == "after_commit":
        spans[milestone][1] = time.perf_counter()
saga.HOOK = hook
start = time.perf_counter()
status = run_wave(wave_context, wave_id)
print(json.dumps({{"status": status.status, "migrated": status.migrated, "error": status.error,
                  "seconds": time.perf_counter() - start,
                  "resumed": status.steps["migrate"].resumed_batches,
                  "batches": status.steps["migrate"].batches,
                  "milestone_s": {{m: round(b - a, 2) for m, (a, b) in spans.items() if b}}}}))
"""


def child(
    home: Path, folder: Path, wave_id: str, kill_at: int, batch: int
) -> tuple[dict | None, float, int]:
    script = home / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), str(home), str(folder), wave_id, str(kill_at), str(batch)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode == -signal.SIGKILL:
        return None, wall, max(peak_kib, before)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, max(peak_kib, before)


def measure(n: int, batch: int, crash: bool) -> dict:
    from sqlalchemy import func, select

    from core.settings import Settings
    from core.store import open_store
    from core.store.models import SourceRow, table_of
    from tools.audit import AuditLog
    from tools.waves import PlanCriteria, generate_plan
    from tools.waves.context import WaveContext

    work = Path(tempfile.mkdtemp(prefix="bench-wave-"))
    home, folder = work / "ws", work / "canonical"
    write_estate(folder, n)
    settings = Settings(home=home, batch_size=batch)
    engine = open_store(settings)
    register_source(engine, home, folder, n)

    wave_context = WaveContext(
        engine=engine,
        settings=settings,
        tenant="default",
        canonical_source=parquet_batches(folder, batch),
        confidence_source=lambda s: {"x": 1.0},
    )
    t0 = time.perf_counter()
    plan = generate_plan(
        wave_context,
        source_ids=["bench"],
        target="new_platform",
        criteria=PlanCriteria(batch_size=batch),
    )
    plan_s = time.perf_counter() - t0
    wave_id = plan.waves[0].wave_id
    batches = -(-n // batch)
    out: dict = {
        "policies": n,
        "batch_size": batch,
        "plan_s": round(plan_s, 1),
        "wave0": plan.waves[0].policy_count,
    }
    if crash:
        kill_at = int(batches * 0.6)
        killed, wall1, _ = child(home, folder, wave_id, kill_at, batch)
        assert killed is None, killed
        result, wall2, peak = child(home, folder, wave_id, -1, batch)
        redone = [
            e.payload["batch_no"]
            for e in AuditLog(engine).replay("waves")
            if e.operation == "migrate.batch" and e.attempts > 1
        ]
        out.update(
            killed_at_batch=kill_at,
            first_run_s=round(wall1, 1),
            resume_s=round(wall2, 1),
            redone_batches=redone,
            resumed_batches=result["resumed"] if result else None,
        )
    else:
        result, wall, peak = child(home, folder, wave_id, -1, batch)
        out.update(
            wall_s=round(wall, 1),
            saga_s=round(result["seconds"], 1),
            milestone_s=result.get("milestone_s"),
        )
    target = wave_context.target("new_platform")
    with target.engine.connect() as conn:
        from sqlalchemy import text

        total, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT policy_core__policy_id) FROM policy")
        ).one()
    out.update(
        status=result["status"] if result else None,
        error=result and result["error"],
        target_rows=total,
        distinct=distinct,
        peak_rss_mib=round(peak / 1024),
        plan_rows=int(
            engine.connect()
            .execute(select(func.count()).select_from(table_of(SourceRow)))
            .scalar_one()
        ),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument(
        "--no-crash", action="store_true", help="skip the SIGKILL-and-resume run (memory only)"
    )
    args = parser.parse_args()
    small = measure(args.policies // 10, args.batch_size, crash=False)
    print("small:", json.dumps(small))
    big = measure(args.policies, args.batch_size, crash=False)
    print("full: ", json.dumps(big))
    if not args.no_crash:
        crashed = measure(args.policies, args.batch_size, crash=True)
        print("crash:", json.dumps(crashed))
    print(f"peak ratio full/small: {big['peak_rss_mib'] / max(small['peak_rss_mib'], 1):.2f}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
