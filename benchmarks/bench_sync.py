"""Coexistence sync: legacy delta detection and change apply/relay, against same-run baselines.

Run: ``.venv/bin/python benchmarks/bench_sync.py [--policies 350000] [--changes 20000]
[--pg postgresql+psycopg://...]`` (under ``flock /tmp/bench.lock`` on shared machines).

1. Delta detection (issue 16: <= 10 s on 350,000 policies with 1 % changed, memory flat).
   Two extracts of N policies (two rows each: one per coverage) are staged as Parquet; the
   first is captured as the feed's starting snapshot (``baseline``), then the second (1 % of
   the policies changed) is captured and timed (wall and process CPU). Each capture runs in a
   child process so its peak RSS is its own; the same is measured at N/10 to show memory
   does not grow with N.
   Baseline: full re-read of both extracts into Python and a per-policy comparison of row
   hashes held in dicts (the "re-ingest and compare in Python" way).
2. Apply throughput on SQLite (goal >= 5,000 changes/s with conflict checks): C changes on
   C/2 policies (both sides, so every field is checked against the base and the other side),
   applied in batches of 500 against the baseline of one transaction per change.
3. Lag on PostgreSQL (goal p99 <= 1 s at a steady 1,000 changes/s, loopback): a writer puts
   platform outbox rows at 1,000/s (100 every 0.1 s) for 10 s while the relay and the applier
   run; lag = applied_at - created_at per change. Baseline: relay and applier one change per
   transaction. Needs --pg (a server URL whose user may create databases).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = {
    "POLNO": "policy_core.policy_id",
    "STAT": "policy_core.status",
    "CARRIER": "policy_core.carrier",
    "CITY": "policy_core.insured_party.address.city",
    "PREMIUM": "rating_components.premium_amount",
    "COVID": "coverage_sections[].coverage_id",
    "COVTYPE": "coverage_sections[].coverage_type",
}


def write_extract(folder: Path, n: int, changed_every: int | None) -> Path:
    """N policies, two coverage rows each; every ``changed_every``-th policy's city changed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    records = folder / "records"
    records.mkdir(exist_ok=True)
    step = 50_000
    for part, start in enumerate(range(0, n, step)):
        ids = range(start, min(n, start + step))
        pol = [f"P{i:07d}" for i in ids for _ in (0, 1)]
        city = [
            ("Köln" if changed_every and i % changed_every == 0 else "Bonn")
            for i in ids
            for _ in (0, 1)
        ]
        table = pa.table(
            {
                "POLNO": pol,
                "STAT": ["active"] * len(pol),
                "CARRIER": ["ACME"] * len(pol),
                "CITY": city,
                "PREMIUM": [100 + (i % 900) for i in ids for _ in (0, 1)],
                "COVID": ["C1", "C2"] * len(ids),
                "COVTYPE": ["life", "health"] * len(ids),
            }
        )
        pq.write_table(table, records / f"part-{part:05d}.parquet")
    return folder


def register(engine: Any, source_id: str, folder: Path, n: int) -> None:
    from core.store.models import SourceRow, table_of, utcnow

    with engine.begin() as conn:
        conn.execute(
            table_of(SourceRow)
            .insert()
            .values(
                tenant="default",
                source_id=source_id,
                name=source_id,
                system="LEG",
                path=str(folder),
                format="parquet",
                options={},
                content_sha256=source_id.ljust(64, "0"),
                size_bytes=1,
                records=2 * n,
                bad_records=0,
                columns=[{"name": c} for c in COLUMNS],
                staging_dir=str(folder),
                created_at=utcnow(),
            )
        )


CAPTURE_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from core.settings import Settings
from core.store import open_store
from tools.sync.capture import LegacyCapture
settings = Settings(home={home!r}, embedding_provider="none")
engine = open_store(settings)
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start, cpu = time.perf_counter(), time.process_time()
result = LegacyCapture(engine, settings, tenant="default").capture(
    "LEG", {source!r}, {columns!r}, baseline={baseline!r}
)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "rss_mb": rss,
                  "rss_after_imports_mb": floor,
                  "result": result.model_dump()}}))
"""

BASELINE_CHILD = r"""
import hashlib, json, resource, sys, time
import pyarrow.parquet as pq
from pathlib import Path
def policies(folder):
    out = {{}}
    for part in sorted(Path(folder, "records").glob("part-*.parquet")):
        for row in pq.read_table(part).to_pylist():
            h = hashlib.md5(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
            out.setdefault(row["POLNO"], []).append(h)
    return {{k: sorted(v) for k, v in out.items()}}
start, cpu = time.perf_counter(), time.process_time()
old, new = policies({old!r}), policies({new!r})
inserts = [k for k in new if k not in old]
deletes = [k for k in old if k not in new]
updates = [k for k in new if k in old and new[k] != old[k]]
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "rss_mb": rss,
                  "updates": len(updates),
                  "inserts": len(inserts), "deletes": len(deletes)}}))
"""


def _child(code: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def delta_detection(n: int) -> dict[str, Any]:
    from core.settings import Settings
    from core.store import open_store

    home = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    settings = Settings(home=home, embedding_provider="none")
    engine = open_store(settings)
    first = write_extract(home / "extract-1", n, None)
    second = write_extract(home / "extract-2", n, 100)  # 1 % changed
    register(engine, "src_day1", first, n)
    register(engine, "src_day2", second, n)
    engine.dispose()
    initial = _child(  # the starting snapshot (--baseline): no change per policy
        CAPTURE_CHILD.format(
            root=str(ROOT), home=str(home), source="src_day1", columns=COLUMNS, baseline=True
        )
    )
    later = _child(
        CAPTURE_CHILD.format(
            root=str(ROOT), home=str(home), source="src_day2", columns=None, baseline=False
        )
    )
    baseline = _child(BASELINE_CHILD.format(old=str(first), new=str(second)))
    initial.pop("result")
    return {"policies": n, "first_capture": initial, "delta_capture": later, "baseline": baseline}


def _seed_states(engine: Any, policies: int) -> None:
    from core.store.models import SyncPolicyRow, table_of, utcnow

    doc = {
        "policy_core.status": "active",
        "policy_core.carrier": "ACME",
        "policy_core.insured_party.address.city": "Bonn",
        "rating_components.premium_amount": 100,
    }
    rows = []
    for i in range(policies):
        base = {**doc, "policy_core.policy_id": f"P{i:07d}"}
        rows.append(
            {
                "tenant": "default",
                "policy_id": f"P{i:07d}",
                "base": base,
                "legacy": base,
                "new": base,
                "stamps": {},
                "updated_at": utcnow(),
            }
        )
    with engine.begin() as conn:
        conn.execute(table_of(SyncPolicyRow).insert(), rows)


CITY, CARRIER = "policy_core.insured_party.address.city", "policy_core.carrier"


def _changes(
    engine: Any, count: int, policies: int, key: str, two_sided_every: int | None = None
) -> None:
    """Two changes per policy: the legacy side's city, the new side's carrier (one-sided).

    With ``two_sided_every``, every such policy's two changes hit the same field instead:
    the city on one half (newest wins by HLC: resolved by rule), the carrier on the other
    (no group: queued for a person), so the conflict paths are part of the measure.
    """
    from core.store.models import SyncChangeRow, table_of, utcnow

    now = utcnow()
    rows = []
    for i in range(count):
        side = "legacy" if i % 2 == 0 else "new"
        path = CITY if side == "legacy" else CARRIER
        policy = (i // 2) % policies
        if two_sided_every and policy % two_sided_every == 0:
            path = CITY if policy % (2 * two_sided_every) == 0 else CARRIER
        rows.append(
            {
                "tenant": "default",
                "change_key": f"{key}:{i}",
                "origin": side,
                "policy_id": f"P{policy:07d}",
                "op": "update",
                "components": [path.split(".", maxsplit=1)[0]],
                "delta": {path: f"v{i}"},
                "hlc": f"{1_700_000_000_000 + i:013d}.00000@{side}",
                "source": "bench",
                "state": "pending",
                "created_at": now,
            }
        )
    with engine.begin() as conn:
        conn.execute(table_of(SyncChangeRow).insert(), rows)


def apply_throughput(changes: int) -> dict[str, Any]:
    """Changes applied per second (wall and process CPU) at batch 500 against one per commit.

    Twice: with one-sided changes only (every field still checked against the base and the
    other side), and with 10 % of the policies changed on both sides (conflicts decided by
    rule or queued, the conflict rows written in the same commits).
    """
    from core.settings import Settings
    from core.store import open_store
    from tools.sync.apply import SyncApplier
    from tools.sync.policy import load_policy

    out: dict[str, Any] = {"changes": changes, "load_avg_1m": round(os.getloadavg()[0], 1)}
    for mix, every in (("one_sided", None), ("ten_pct_two_sided", 10)):
        part: dict[str, Any] = {}
        for label, batch, count in (
            ("batched_500", 500, changes),
            ("one_per_tx", 1, changes // 10),
        ):
            home = Path(tempfile.mkdtemp(prefix="bench-apply-"))
            engine = open_store(Settings(home=home))
            _seed_states(engine, count // 2)
            _changes(engine, count, count // 2, label, every)
            applier = SyncApplier(engine, load_policy(), tenant="default", batch=batch)
            start, cpu = time.perf_counter(), time.process_time()
            report = applier.apply_pending()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            part[label] = {
                "changes": report.applied,
                "conflicts_resolved": report.resolved,
                "conflicts_queued": report.queued,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "per_second": round(report.applied / seconds),
                "per_cpu_second": round(report.applied / cpu),
            }
            engine.dispose()
        part["ratio"] = round(
            part["batched_500"]["per_second"] / part["one_per_tx"]["per_second"], 1
        )
        out[mix] = part
    return out


def pg_lag(url: str, seconds: float = 10.0) -> dict[str, Any]:
    from sqlalchemy import create_engine, select, text

    from core.settings import Settings
    from core.store import open_store
    from core.store.models import PlatformOutboxRow, SyncChangeRow, table_of, utcnow
    from tools.sync.apply import SyncApplier
    from tools.sync.policy import load_policy
    from tools.sync.relay import Relay

    outbox, change = table_of(PlatformOutboxRow), table_of(SyncChangeRow)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    out: dict[str, Any] = {
        "rate_per_s": 1000,
        "seconds": seconds,
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    for label, batch in (("batched", 500), ("one_per_tx", 1)):
        name = f"bench_sync_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = admin.url.set(database=name).render_as_string(hide_password=False)
        home = Path(tempfile.mkdtemp(prefix="bench-lag-"))
        settings = Settings(home=home, db_url=db)
        engine = open_store(settings)
        stop = threading.Event()

        def writer(engine: Any = engine, stop: threading.Event = stop) -> None:
            i = 0
            tick = time.perf_counter()
            while not stop.is_set():
                rows = []
                for _ in range(100):
                    rows.append(
                        {
                            "tenant": "default",
                            "policy_id": f"P{i % 5000:07d}",
                            "origin": "new",
                            "op": "update",
                            "delta": {"policy_core.carrier": f"c{i}"},
                            "hlc": f"{1_700_000_000_000 + i:013d}.00000@new",
                            "created_at": utcnow(),
                        }
                    )
                    i += 1
                with engine.begin() as conn:
                    xid = conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar()
                    conn.execute(outbox.insert(), [{**r, "txid": xid} for r in rows])
                tick += 0.1
                time.sleep(max(0.0, tick - time.perf_counter()))

        relay = Relay(engine, settings, tenant="default", batch=batch)
        applier = SyncApplier(engine, load_policy(), tenant="default", batch=batch)
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        end = time.monotonic() + seconds
        cycles = 0
        while time.monotonic() < end:
            relay.forward()
            applier.apply_pending()
            cycles += 1
        stop.set()
        thread.join()
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.created_at, change.c.created_at, change.c.applied_at).join(
                    change, change.c.change_key == text("'new:' || platform_outbox.id")
                )
            ).all()
            written = conn.execute(select(outbox.c.id)).all()
        lags = sorted((a - c).total_seconds() for c, _f, a in rows if a is not None)
        # where the lag is: outbox write -> forwarded (a change row), forwarded -> applied
        forwarded = sorted((f - c).total_seconds() for c, f, a in rows if a is not None)
        applying = sorted((a - f).total_seconds() for _c, f, a in rows if a is not None)
        out[label] = {
            "written": len(written),
            "applied_in_window": len(lags),
            "p50_s": _quantile(lags, 0.5),
            "p99_s": _quantile(lags, 0.99),
            "forward_p99_s": _quantile(forwarded, 0.99),
            "apply_p99_s": _quantile(applying, 0.99),
            "cycles": cycles,
        }
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    return out


def _quantile(values: list[float], q: float) -> float | None:
    return round(values[max(0, int(len(values) * q) - 1)], 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--pg", default=os.environ.get("DATA_MASH_TEST_PG_URL"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["delta", "apply", "lag"])
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if "delta" not in args.skip:
        results["delta"] = delta_detection(args.policies)
        results["delta_tenth"] = delta_detection(args.policies // 10)
        results["delta_rss_ratio"] = round(
            results["delta"]["delta_capture"]["rss_mb"]
            / results["delta_tenth"]["delta_capture"]["rss_mb"],
            2,
        )
    if "apply" not in args.skip:
        results["apply"] = apply_throughput(args.changes)
    if "lag" not in args.skip and args.pg:
        results["lag"] = pg_lag(args.pg)
    results["rss_mb_parent"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
