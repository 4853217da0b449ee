"""Migration target throughput and reconciliation on 350,000 canonical policies.

Run: ``.venv/bin/python benchmarks/bench_targets.py [--policies 350000] [--batch 5000]``

1. Generates canonical policies column-wise with numpy (id, status, type, state, premium, balance,
   dates, 1-3 coverages as list<struct>).
2. Writes them to `new_platform` on a SQLite file in batches (one transaction of executemany
   upserts per batch) and, in the same run, a naive per-row INSERT + commit loop on a sample.
3. Reconciles the source against the target's read-back: policies/s and peak RSS.
Goal: >= 20,000 policies/s written on SQLite.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.canonical import arrow_schema  # noqa: E402
from tools.waves.reconcile import reconcile  # noqa: E402
from tools.waves.targets import make_target  # noqa: E402

STATUSES = np.array(["active"] * 6 + ["inactive", "pending", "cancelled", "expired"])
TYPES = np.array(["auto", "homeowners", "term_life", "annuity", "commercial_property", "umbrella"])
COVERAGE_TYPES = np.array(["auto", "property", "life", "liability", "umbrella"])
STATES = np.array(["NY", "CA", "TX", "FL", "OH", "PA", "IL", "NJ", "GA", "WA"])


def synthetic_policies(n: int, seed: int = 7, start: int = 0) -> pa.Table:
    """`n` canonical policies in the exact layout of arrow_schema('policy_v1')."""
    rng = np.random.default_rng(seed)
    schema = arrow_schema("policy_v1")
    ids = np.char.add("P", np.char.zfill(np.arange(start, start + n).astype(str), 9))
    effective = rng.integers(15_000, 20_000, n)  # days since 1970
    cents = rng.integers(10_000, 500_000, n)

    columns: dict[str, pa.Array] = {
        "policy_core.policy_id": pa.array(ids),
        "policy_core.status": pa.array(rng.choice(STATUSES, n)),
        "policy_core.effective_date": pa.array(effective.astype("int32"), pa.date32()),
        "policy_core.expiration_date": pa.array((effective + 365).astype("int32"), pa.date32()),
        "policy_core.policy_type": pa.array(rng.choice(TYPES, n)),
        "policy_core.carrier": pa.array(np.full(n, "ACME MUTUAL")),
        "policy_core.insured_party.name": pa.array(np.char.add("Insured ", ids)),
        "policy_core.insured_party.address.state": pa.array(rng.choice(STATES, n)),
        "rating_components.premium_amount": _cents(cents),
        "rating_components.premium_frequency": pa.array(np.full(n, "annual")),
        "payments.outstanding_balance": _cents(rng.integers(-5_000, 50_000, n)),
    }
    # 1-3 coverages per policy, built as one flat struct array plus offsets.
    per = rng.integers(1, 4, n)
    offsets = np.concatenate([[0], np.cumsum(per)]).astype("int32")
    total = int(offsets[-1])
    parent = np.repeat(np.arange(n), per)
    cov_struct = schema.field("coverage_sections").type.value_type
    items = {
        "coverage_id": pa.array(
            np.char.add(
                ids[parent], np.char.add("-C", (np.arange(total) - offsets[parent]).astype(str))
            )
        ),
        "coverage_type": pa.array(rng.choice(COVERAGE_TYPES, total)),
        "limits.per_occurrence": _cents(rng.integers(1_000, 100_000, total) * 10_000),
        "limits.aggregate": _cents(rng.integers(1_000, 100_000, total) * 20_000),
        "deductibles.amount": _cents(rng.integers(0, 500, total) * 100),
        "effective_date": pa.array(effective[parent].astype("int32"), pa.date32()),
        "expiration_date": pa.array((effective[parent] + 365).astype("int32"), pa.date32()),
    }
    struct = pa.StructArray.from_arrays(
        [items[f.name] for f in cov_struct], fields=list(cov_struct)
    )
    columns["coverage_sections"] = pa.ListArray.from_arrays(pa.array(offsets), struct)
    arrays = [columns.get(f.name, pa.nulls(n, f.type)) for f in schema]
    arrays = [
        a if a.type == f.type else a.cast(f.type) for a, f in zip(arrays, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _cents(values: np.ndarray) -> pa.Array:
    # int cents -> decimal128(18, 2) exactly: the unscaled value is a 128-bit little-endian int.
    words = np.empty((len(values), 2), dtype="<i8")
    words[:, 0] = values
    words[:, 1] = np.where(values < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(values), [None, pa.py_buffer(words.tobytes())]
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_rate(target: object, table: pa.Table) -> tuple[float, float]:
    """Per-row INSERT + commit through SQLAlchemy (what the batched path replaces)."""
    from sqlalchemy import insert

    from tools.waves.targets.codec import conform, encode, flat_columns

    names = [c.name for c in flat_columns()]
    values = encode(conform(table), text=True)
    rows = [dict(zip(names, r, strict=True)) for r in zip(*values, strict=True)]
    engine, tbl = target.engine, target.table  # type: ignore[attr-defined]
    start, cpu = time.perf_counter(), time.process_time()
    for row in rows:
        with engine.begin() as conn:
            conn.execute(insert(tbl), {**row, "wave_id": "naive", "written_at": "2024-01-01"})
    return len(rows) / (time.perf_counter() - start), len(rows) / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    source = synthetic_policies(args.policies)
    print(f"generated {args.policies:,} policies in {time.perf_counter() - t0:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        target = make_target("new_platform", {"url": f"sqlite:///{tmp}/platform.sqlite"})
        assert target.health().ok
        start, cpu = time.perf_counter(), time.process_time()
        for batch in source.to_batches(max_chunksize=args.batch):
            target.write("w1", pa.Table.from_batches([batch]))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        batched = args.policies / elapsed
        # CPU seconds matter on a shared machine: wall time there includes waiting for a core.
        print(
            f"batched upsert: {batched:,.0f} policies/s wall ({elapsed:.1f}s), "
            f"{args.policies / cpu:,.0f} policies per CPU-second, RSS {peak_rss_mb():.0f} MiB"
        )

        sample = synthetic_policies(args.naive_sample, seed=9, start=10_000_000)
        naive, naive_cpu = naive_rate(target, sample)
        print(
            f"naive per-row INSERT+commit ({args.naive_sample:,} rows): {naive:,.0f} policies/s"
            f" wall, {naive_cpu:,.0f} per CPU-second -> batched is {batched / naive:.1f}x"
        )

        start, cpu = time.perf_counter(), time.process_time()
        report = reconcile(source.to_batches(max_chunksize=50_000), target.read_back("w1"))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"reconcile source vs read-back: passed={report.passed}, "
            f"{args.policies / elapsed:,.0f} policies/s wall ({elapsed:.1f}s), "
            f"{args.policies / cpu:,.0f} per CPU-second, peak RSS {peak_rss_mb():.0f} MiB"
        )
        target.close()


if __name__ == "__main__":
    main()
