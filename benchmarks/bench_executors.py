"""The CPU-bound bulk stages on each executor: local vs a 2-process pool vs Ray (2 workers).

Run: ``.venv/bin/python benchmarks/bench_executors.py [--records 350000] [--batch 5000]``

Stages, each on the same input in the same run:

* map: the whole mapping run (``map_to_canonical``: staged Parquet -> transforms -> vectorised
  checks -> canonical Parquet + quarantine, one audited batch per task) of bench_mapping's
  synthetic source, in a fresh workspace per executor;
* route: the wave's rule decisions (:class:`tools.waves.milestones.RuleDecisions`) over the
  canonical records the local map wrote, six rules;
* reconcile (driver only, for sizing): the canonical records against themselves;
* ingest (``--ingest-records N``): bench_ingest's fixed-length EBCDIC POLMAST file of N
  records, ingested (decoded by record range, staged, profiled by row range) in a fresh
  workspace per executor; profiling alone is re-timed on the staged records; every staged file
  is compared;
* csv: the same for a delimited file of N policies (quoted values, a few spanning lines),
  decoded by byte range (surveyed for column types, then decoded, range by range);
* jsonl: the same for a JSON Lines file of N nested policies (byte ranges cut at line ends,
  surveyed for column shapes, then decoded);
  ``--repeat R`` runs the ingest stages R times, executors interleaved, and reports each run's
  1-minute load average (before and after) and the median of the speed-ups;
* assemble (``--assembly-policies N``): the four home-system assemblies of bench_assembly's
  estate of N policies (prepared once under ``--assembly-base``), four fresh approved assemblies
  per executor; the stage (DuckDB joins, driver) is timed apart from the batches (executor
  tasks of ``--assembly-batch`` policies each), and every file of every batch is compared.

Prints seconds, speed-up over local, seconds per 1M policies, and whether every executor wrote
the same files (sha256 of each part). Ray's start-up (a few seconds) is timed apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = """
routing_rules:
  version: "1"
  canonical: policy_v1
  rules:
    - name: cancelled_to_dq
      condition: {field: "policy_core.status", operator: "equals", value: "cancelled"}
      target: "DataQualityQueue"
      priority: 1
    - name: big_premium_bridge
      condition: {field: "rating_components.premium_amount", operator: "greater_than", value: 4000}
      target: "CoexistenceBridge"
      priority: 2
    - name: texas_legacy
      condition: {field: "policy_core.insured_party.address.state", operator: "equals", value: "TX"}
      target: "LegacyBatch"
      priority: 3
    - name: old_policies_legacy
      condition: {field: "policy_core.effective_date", operator: "less_than", value: "1995-01-01"}
      target: "LegacyBatch"
      priority: 4
    - name: named_insured_new
      condition: {field: "policy_core.insured_party.name", operator: "not_null"}
      target: "NewPlatformAPI"
      priority: 5
    - name: everything_else_new
      condition: {field: "policy_core.policy_id", operator: "not_null"}
      target: "NewPlatformAPI"
      priority: 6
"""


def _executor(kind: str) -> Any:
    from core.executors import LocalExecutor, ProcessExecutor, RayExecutor

    if kind == "local":
        return LocalExecutor()
    if kind == "process":
        return ProcessExecutor(2)
    return RayExecutor(address=None, workers=2)


def _warm(executor: Any) -> float:
    """Start the executor's workers and their imports (Ray's start-up, the pool's spawn)."""
    from benchmarks.bench_executors import noop

    start = time.perf_counter()
    list(executor.map(noop, range(4)))
    return time.perf_counter() - start


def noop(item: int) -> int:
    """A first task per worker: the imports every stage's tasks need (a one-off per worker)."""
    import tools.assembly.run
    import tools.canonical.run
    import tools.waves.milestones  # noqa: F401

    return item


def map_stage(work: Path, records: int, batch: int, kind: str) -> dict[str, Any]:
    from benchmarks.bench_mapping import stage
    from core.settings import Settings
    from core.store import open_store
    from tools.canonical import map_to_canonical

    home = work / kind
    mapping_id = stage(records, home)
    settings = Settings(home=home, batch_size=batch)
    engine = open_store(settings)
    executor = _executor(kind)
    warm = _warm(executor)
    start = time.perf_counter()
    result = map_to_canonical(engine, settings, mapping_id, executor=executor)
    seconds = time.perf_counter() - start
    out = Path(result.output_dir)
    files = {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
    }
    return {
        "executor": executor,
        "warm_s": warm,
        "seconds": seconds,
        "valid": result.valid,
        "files": files,
        "output": out,
    }


def assemble_stage(base: Path, policies: int, batch: int, kind: str) -> dict[str, Any]:
    """Four fresh assemblies on one executor: stage seconds (driver), batch seconds (tasks)."""
    import tools.assembly.run as asm
    from benchmarks.bench_assembly import prepare
    from core.settings import Settings
    from core.store import open_store

    assemblies = list(prepare(base, policies, 7)["assemblies"])  # type: ignore[call-overload]
    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    executor = _executor(kind)
    warm = _warm(executor)
    staging = 0.0
    stage = asm._stage

    def timed_stage(*args: Any, **kwargs: Any) -> Any:
        nonlocal staging
        started = time.perf_counter()
        try:
            return stage(*args, **kwargs)
        finally:
            staging += time.perf_counter() - started

    asm._stage = timed_stage  # type: ignore[assignment]
    files: dict[str, str] = {}
    done = 0
    start = time.perf_counter()
    try:
        for n, assembly_id in enumerate(assemblies):
            result = asm.run_assembly(
                engine,
                settings,
                assembly_id,
                tenant="default",
                batch_policies=batch,
                executor=executor,
            )
            done += result.policies
            out = Path(result.output_dir)
            files.update(
                {
                    f"{n}/{p.relative_to(out)}": hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in sorted(out.rglob("*.parquet"))
                }
            )
    finally:
        asm._stage = stage  # type: ignore[assignment]
        executor.close()
    seconds = time.perf_counter() - start
    return {
        "load": os.getloadavg()[0],
        "warm_s": warm,
        "seconds": seconds,
        "stage_s": staging,
        "batches_s": seconds - staging,
        "policies": done,
        "files": files,
    }


def build_csv_file(work: Path, records: int) -> tuple[Path, dict[str, Any]]:
    """A delimited file of ``records`` policies: numbers, dates, codes, and notes that are
    sometimes quoted (a comma, a doubled quote, every 500th a line break inside)."""
    path = work / f"policies_{records}.csv"
    if path.is_file():
        return path, {"header": True}
    states = ["TX", "CA", "NY", "FL", "WA", "OH"]
    notes = ["", "renewal", '"paid, late"', '"said ""call me"""', "agent note"]
    with path.open("w", newline="") as out:
        out.write("policy_no,holder,premium,deductible,effective,state,class,note\n")
        for i in range(records):
            note = '"line one\nline two"' if i % 500 == 7 else notes[i % len(notes)]
            out.write(
                f"P{i + 1:09d},Holder {i % 9973},{(i * 37) % 100000 / 100:.2f},{(i % 20) * 250},"
                f"{1990 + i % 35}-{1 + i % 12:02d}-{1 + i % 28:02d},{states[i % 6]},"
                f"{i % 400:04d},{note}\n"
            )
    return path, {"header": True}


def build_jsonl_file(work: Path, records: int) -> tuple[Path, dict[str, Any]]:
    """A JSON Lines file of ``records`` policies: nested holder and address, a list of
    coverages, an optional discount, and a rider list that appears only in later records."""
    path = work / f"policies_{records}.jsonl"
    if path.is_file():
        return path, {}
    states = ["TX", "CA", "NY", "FL", "WA", "OH"]
    with path.open("w") as out:
        for i in range(records):
            record: dict[str, Any] = {
                "policy_no": f"P{i + 1:09d}",
                "holder": {"name": f"Holder {i % 9973}", "address": {"state": states[i % 6]}},
                "premium": (i * 37) % 100000 / 100,
                "effective": f"{1990 + i % 35}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "coverages": [{"type": "fire", "limit": (i % 20) * 1000}] * (1 + i % 3),
            }
            if i % 4 == 0:
                record["discount"] = i % 15
            if i > records // 2:
                record["riders"] = [f"R{i % 7}"]
            out.write(json.dumps(record) + "\n")
    return path, {}


def ingest_stage(work: Path, records: int, kind: str, fmt: str = "cobol") -> dict[str, Any]:
    """Ingest of a fixed-length COBOL file (or a delimited one) on one executor; profiling
    alone re-timed."""
    from benchmarks.bench_ingest import build_master_file
    from core.settings import Settings
    from core.store import open_store
    from tools.content.ingest import ingest_file
    from tools.content.profiling import profile_staged
    from tools.content.sources import SourceRegistry

    if fmt == "csv":
        path, options = build_csv_file(work, records)
    elif fmt == "jsonl":
        path, options = build_jsonl_file(work, records)
    else:
        path, options = build_master_file(work, records)
    home = Path(tempfile.mkdtemp(prefix=f"ingest-{kind}-", dir=work))
    settings = Settings(home=home, embedding_provider="none")
    engine = open_store(settings)
    executor = _executor(kind)
    warm = _warm(executor)
    load = os.getloadavg()[0]
    try:
        start = time.perf_counter()
        result = ingest_file(engine, settings, path, fmt=fmt, options=options, executor=executor)
        seconds = time.perf_counter() - start
        staged = Path(SourceRegistry(engine, tenant="default").get(result.source_id).staging_dir)
        start = time.perf_counter()
        profile_staged(staged / "records", executor=executor)
        profile_s = time.perf_counter() - start
    finally:
        executor.close()
    files = {
        str(p.relative_to(staged)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(staged.rglob("*"))
        if p.is_file()
    }
    return {
        "warm_s": warm,
        "seconds": seconds,
        "profile_s": profile_s,
        "files": files,
        "load": (load, os.getloadavg()[0]),
    }


def route_stage(parts: list[Path], executor: Any) -> tuple[float, str]:
    from tools.waves.milestones import RuleDecisions

    batches = [b for p in parts for b in pq.ParquetFile(p).iter_batches(batch_size=1 << 30)]
    task = RuleDecisions(RULES, 0)
    start = time.perf_counter()
    results = list(executor.map(task, batches))
    seconds = time.perf_counter() - start
    digest = hashlib.sha256()
    for table in results:
        digest.update(str(table.column("rule").to_pylist()).encode())
    return seconds, digest.hexdigest()


def reconcile_stage(parts: list[Path]) -> float:
    from tools.waves.reconcile import reconcile

    def batches() -> Any:
        for p in parts:
            yield from pq.ParquetFile(p).iter_batches(batch_size=10_000)

    start = time.perf_counter()
    assert reconcile(batches(), batches()).passed
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=350_000)
    parser.add_argument("--batch", type=int, default=5_000, help="policies per task")
    parser.add_argument("--executors", default="local,process,ray")
    parser.add_argument(
        "--stages",
        default="map,ingest,assemble",
        help="map (with route), ingest, csv, jsonl, assemble",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of the ingest stages")
    parser.add_argument("--ingest-records", type=int, default=350_000)
    parser.add_argument("--assembly-policies", type=int, default=350_000)
    parser.add_argument("--assembly-batch", type=int, default=5_000, help="policies per task")
    parser.add_argument("--assembly-base", type=Path, default=Path("/tmp/bench-exec-asm"))
    args = parser.parse_args()
    stages = args.stages.split(",")
    for fmt, stage in (("cobol", "ingest"), ("csv", "csv"), ("jsonl", "jsonl")):
        if stage in stages:
            _ingest_report(args, fmt)
    if "assemble" in stages:
        _assemble_report(args)
    if "map" not in stages:
        return
    per_m = 1_000_000 / args.records
    report: dict[str, Any] = {"records": args.records, "batch": args.batch, "stages": {}}
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp:
        work = Path(tmp)
        runs = {kind: map_stage(work, args.records, args.batch, kind) for kind in ["local"]}
        parts = sorted(runs["local"]["output"].glob("part-*.parquet"))
        for kind in args.executors.split(","):
            if kind != "local":
                runs[kind] = map_stage(work, args.records, args.batch, kind)
        local = runs["local"]
        for run in runs.values():
            route_s, route_digest = route_stage(parts, run["executor"])
            run.update(route_s=route_s, route_digest=route_digest)
        for kind, run in runs.items():
            report["stages"][kind] = {
                "start_s": round(run["warm_s"], 2),
                "map_s": round(run["seconds"], 2),
                "map_speedup": round(local["seconds"] / run["seconds"], 2),
                "map_s_per_1M": round(run["seconds"] * per_m, 1),
                "map_same_files": run["files"] == local["files"],
                "route_s": round(run["route_s"], 2),
                "route_speedup": round(local["route_s"] / run["route_s"], 2),
                "route_s_per_1M": round(run["route_s"] * per_m, 1),
                "route_same_decisions": run["route_digest"] == local["route_digest"],
            }
            run["executor"].close()
        reconcile_s = reconcile_stage(parts)
        report["reconcile_s"] = round(reconcile_s, 2)
        report["reconcile_s_per_1M"] = round(reconcile_s * per_m, 1)
    print(json.dumps(report, indent=2))


def _ingest_report(args: argparse.Namespace, fmt: str) -> None:
    kinds = args.executors.split(",")
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="bench-exec-ingest-") as tmp:
        for _ in range(args.repeat):  # executors interleaved: load drifts hit each alike
            for kind in kinds:
                runs[kind].append(ingest_stage(Path(tmp), args.ingest_records, kind, fmt))
    local = runs["local"]
    report: dict[str, Any] = {"format": fmt, "records": args.ingest_records, "ingest": {}}
    for kind, repeats in runs.items():
        ingest = [lo["seconds"] / run["seconds"] for lo, run in zip(local, repeats, strict=True)]
        profile = [lo["profile_s"] / r["profile_s"] for lo, r in zip(local, repeats, strict=True)]
        report["ingest"][kind] = {
            "start_s": [round(r["warm_s"], 2) for r in repeats],
            "ingest_s": [round(r["seconds"], 2) for r in repeats],
            "load_1min_before_after": [[round(x, 1) for x in r["load"]] for r in repeats],
            "ingest_speedup": [round(x, 2) for x in ingest],
            "ingest_speedup_median": round(statistics.median(ingest), 2),
            "profile_s": [round(r["profile_s"], 2) for r in repeats],
            "profile_speedup_median": round(statistics.median(profile), 2),
            "same_files": all(r["files"] == local[0]["files"] for r in repeats),
            "files": len(repeats[0]["files"]),
        }
    print(json.dumps(report, indent=2), flush=True)


def _assemble_report(args: argparse.Namespace) -> None:
    base = args.assembly_base / f"p{args.assembly_policies // 1000}k"
    runs: dict[str, dict[str, Any]] = {}
    for n, kind in enumerate(args.executors.split(",")):  # "local,ray,local,ray": interleaved
        name = kind if kind not in runs else f"{kind}#{n}"
        runs[name] = assemble_stage(base, args.assembly_policies, args.assembly_batch, kind)
    local = runs["local"]
    report = {"policies": local["policies"], "batch": args.assembly_batch, "assemble": {}}
    for kind, run in runs.items():
        report["assemble"][kind] = {
            "load_1min": round(run["load"], 2),
            "start_s": round(run["warm_s"], 2),
            "stage_s": round(run["stage_s"], 2),
            "batches_s": round(run["batches_s"], 2),
            "batches_speedup": round(local["batches_s"] / run["batches_s"], 2),
            "total_s": round(run["seconds"], 2),
            "same_files": run["files"] == local["files"],
            "files": len(run["files"]),
        }
    print(json.dumps(report, indent=2), flush=True)


if __name__ == "__main__":
    main()
