"""Whole-policy assembly time and peak memory, against a naive per-policy Python join.

Run: ``.venv/bin/python benchmarks/bench_assembly.py [--sizes 35000,350000] [--base DIR]``
(under ``flock /tmp/bench.lock`` on a shared machine).

For each size the estate is generated and ingested once into ``BASE/p<size>`` (reused by later
runs). A preparation process stores the reviewed mappings (``evals.assembly_truth``), confirms
the relationships once and proposes and approves one fresh assembly per home system (policy
master, agency, life, acquired: together every policy, from all eight systems). A second,
fresh process then runs the four assemblies and reports its wall and CPU time and its peak RSS
(``ru_maxrss``: everything the process held, DuckDB included). The baseline, in the same run:
a naive per-policy Python join (dict of lists over every staged record, values converted one by
one: ``evals.assembly_truth.truth_documents``) on the 35,000-policy estate.

Goals (issue 15): the 350,000-policy estate in <= 30 s wall on 2 cores, peak RSS <= 1 GiB and
within 1.5x of the peak at 35,000 policies.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _workspace(base: Path, policies: int, seed: int):  # type: ignore[no-untyped-def]
    from core.settings import Settings
    from core.store import open_store
    from evals.demo import sources_step
    from evals.estate import generate_estate

    estate = base / "estate"
    if not (estate / "estate.json").is_file():
        generate_estate(estate, policies=policies, seed=seed)
    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    sources_step(engine, settings, estate)
    return estate, settings, engine


def prepare(base: Path, policies: int, seed: int) -> dict[str, object]:
    """Mappings and relationships (once), then four fresh approved assemblies."""
    from evals.assembly_truth import ROOTS, install_reviewed_mappings
    from tools.assembly import confirm_relationships
    from tools.assembly.spec import approve_assembly, propose_assembly
    from tools.content.sources import SourceRegistry

    estate, settings, engine = _workspace(base, policies, seed)
    infos = SourceRegistry(engine, tenant="default").list()
    ids = {i.name: i.source_id for i in infos}
    marker = base / "prepared.json"
    if not marker.is_file():
        install_reviewed_mappings(engine, estate, tenant="default")
        confirm_relationships(engine, settings, list(ids.values()), tenant="default")
        marker.write_text("{}")
    assemblies = []
    started = time.perf_counter()
    for root in ROOTS:
        draft = propose_assembly(engine, settings, ids[root], None, tenant="default")
        assemblies.append(approve_assembly(engine, draft.assembly_id, tenant="default").assembly_id)
    return {"assemblies": assemblies, "propose_seconds": time.perf_counter() - started}


def assemble(base: Path, assemblies: list[str]) -> dict[str, object]:
    """Run the approved assemblies; time, CPU and peak RSS of this process."""
    from core.settings import Settings
    from core.store import open_store
    from tools.assembly.run import run_assembly

    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    t0, c0 = time.perf_counter(), time.process_time()
    policies = records = 0
    for assembly_id in assemblies:
        result = run_assembly(engine, settings, assembly_id, tenant="default")
        policies += result.policies
        records += sum(c.records_held for c in result.components)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "policies": policies,
        "records": records,
    }


def naive(base: Path) -> dict[str, object]:
    """The baseline: a per-policy Python join (dict of lists) of every staged record."""
    from core.settings import Settings
    from core.store import open_store
    from evals.assembly_truth import truth_documents
    from tools.assembly.keyspace import parquet_files
    from tools.content.sources import SourceRegistry

    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    infos = SourceRegistry(engine, tenant="default").list()
    t0, c0 = time.perf_counter(), time.process_time()
    truth = truth_documents(base / "estate", {i.name: parquet_files(i) for i in infos})
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "policies": truth.policies,
    }


def _child(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="35000,350000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--base", type=Path, default=Path("/tmp/asm-bench"))
    parser.add_argument("--step", choices=["prepare", "assemble", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--policies", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--assemblies", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is not None:
        folder = args.base
        if args.step == "prepare":
            result = prepare(folder, args.policies, args.seed)
        elif args.step == "assemble":
            result = assemble(folder, args.assemblies.split(","))
        else:
            result = naive(folder)
        print(json.dumps(result))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {}
    for size in sizes:
        folder = args.base / f"p{size // 1000}k"
        prepared = _child(
            "--step", "prepare", "--base", str(folder), "--policies", str(size),
            "--seed", str(args.seed),
        )  # fmt: skip
        assemblies = ",".join(prepared["assemblies"])  # type: ignore[arg-type]
        runs[size] = _child("--step", "assemble", "--base", str(folder), "--assemblies", assemblies)
        runs[size]["propose_seconds"] = prepared["propose_seconds"]
        r = runs[size]
        print(
            f"assembly {size:>7} policies ({r['records']} records): {r['seconds']:.1f} s wall, "
            f"{r['cpu']:.1f} s CPU, peak RSS {r['peak_rss_mib']:.0f} MiB "
            f"(propose+approve 4 assemblies {r['propose_seconds']:.1f} s)",
            flush=True,
        )
    small = min(sizes)
    base_run = _child("--step", "naive", "--base", str(args.base / f"p{small // 1000}k"))
    print(
        f"naive per-policy Python join, {small} policies: {base_run['seconds']:.1f} s wall, "
        f"{base_run['cpu']:.1f} s CPU, peak RSS {base_run['peak_rss_mib']:.0f} MiB"
    )
    ours = runs[small]
    print(f"ratio naive / assembly at {small}: {base_run['seconds'] / ours['seconds']:.1f}x")  # type: ignore[operator]
    if len(sizes) > 1:
        big = runs[max(sizes)]
        growth = big["peak_rss_mib"] / ours["peak_rss_mib"]  # type: ignore[operator]
        print(f"peak RSS {max(sizes)} / {small}: {growth:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
