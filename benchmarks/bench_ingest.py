"""Benchmark: ingest memory at scale, and ingest + profile time per system of the sample estate.

(a) Peak RSS of ``ingest_file`` (decode, stage to Parquet, profile, register) on a fixed-length
    EBCDIC cp037 file of 1,000,000 vs 100,000 POLMAST records, each in a fresh subprocess. The
    file tiles the records of a small generated estate and rewrites POL_NBR so every key is
    unique (the key check is the one part of profiling whose memory grows with distinct keys).
    Requirement: the 1M peak is within 1.5x of the 100k peak.
(b) Ingest + profile wall time per source and system of a generated estate (default 350,000
    policies), in a fresh subprocess, with ``DATA_MASH_EMBEDDING_PROVIDER=none`` so only decoding,
    staging and profiling are timed. Profiling is also re-timed alone on the staged records.

    .venv/bin/python benchmarks/bench_ingest.py [--big 1000000] [--small 100000]
        [--policies 350000] [--no-memory] [--no-estate] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORD_LENGTH = 320
BLOCK = 100_000  # records written per block when building the big file
_CP037 = np.frombuffer(bytes(range(256)).decode("latin-1").encode("cp037"), dtype=np.uint8)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _quiet_settings(home: Path) -> Any:
    from core.settings import Settings

    return Settings(home=home, embedding_provider="none")


# ----------------------------------------------------------------------------- (a) memory


def build_master_file(work: Path, records: int) -> tuple[Path, dict[str, Any]]:
    """A POLMAST.dat of ``records`` records with unique POL_NBR, and its reader options."""
    from evals.estate import generate_estate

    seed_dir = work / "seed_estate"
    if not (seed_dir / "policy_master" / "POLMAST.dat").is_file():
        generate_estate(seed_dir, policies=5000, seed=7)
    tile = np.fromfile(seed_dir / "policy_master" / "POLMAST.dat", dtype=np.uint8)
    tile = tile.reshape(-1, RECORD_LENGTH)
    path = work / f"POLMAST_{records}.dat"
    with path.open("wb") as out:
        for start in range(0, records, BLOCK):
            n = min(BLOCK, records - start)
            block = tile[np.arange(start, start + n) % len(tile)].copy()
            ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
            digits = (ids[:, None] // 10 ** np.arange(8, -1, -1)) % 10
            block[:, 0] = _CP037[ord("P")]
            block[:, 1:10] = _CP037[(digits + ord("0")).astype(np.uint8)]
            out.write(block.tobytes())
    options = {
        "copybook": str(seed_dir / "policy_master" / "POLMAST.cpy"),
        "encoding": "cp037",
        "record_format": "F",
        "record_length": RECORD_LENGTH,
    }
    return path, options


def memory_child(path: Path, options: dict[str, Any], home: Path) -> dict[str, Any]:
    """Runs in a fresh process: ingest one file, report peak RSS and wall time."""
    from core.store import open_store
    from tools.content.ingest import ingest_file

    settings = _quiet_settings(home)
    engine = open_store(settings)
    before = _peak_mib()
    t0 = time.perf_counter()
    result = ingest_file(engine, settings, path, fmt="cobol", options=options, name=path.stem)
    wall = time.perf_counter() - t0
    return {
        "records": result.records,
        "bad": result.bad_records,
        "reused": result.reused,
        "wall_s": wall,
        "peak_mib": _peak_mib(),
        "before_mib": before,
    }


def run_memory(work: Path, sizes: list[int]) -> None:
    print("(a) peak RSS of ingest_file, fixed-length EBCDIC cp037, 320-byte POLMAST records")
    print(
        f"    {'records':>10} {'file MiB':>9} {'wall s':>7} {'rec/s':>9} "
        f"{'RSS before':>11} {'peak RSS':>9}"
    )
    peaks = {}
    for n in sizes:
        path, options = build_master_file(work, n)
        shutil.rmtree(work / f"ws_{n}", ignore_errors=True)  # a kept workspace would reuse it
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                str(path),
                "--options",
                json.dumps(options),
                "--workdir",
                str(work / f"ws_{n}"),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=_child_env(),
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        assert r["records"] == n and r["bad"] == 0 and not r["reused"], r
        peaks[n] = r["peak_mib"]
        print(
            f"    {n:>10,} {path.stat().st_size / 2**20:>9.0f} {r['wall_s']:>7.1f} "
            f"{n / r['wall_s']:>9,.0f} {r['before_mib']:>8.0f} MiB {r['peak_mib']:>5.0f} MiB"
        )
        path.unlink()
    if len(sizes) == 2:
        small, big = sorted(sizes)
        ratio = peaks[big] / peaks[small]
        verdict = "OK" if ratio <= 1.5 else "OVER"
        print(
            f"    peak RSS ratio {big:,} / {small:,} = {ratio:.2f}x (requirement <= 1.5x: "
            f"{verdict})"
        )


# ----------------------------------------------------------------------------- (b) estate


def estate_child(estate: Path, home: Path) -> dict[str, Any]:
    """Runs in a fresh process: ingest every source of the estate, then re-time profiling."""
    from core.store import open_store
    from tools.content.ingest import ingest_entry, ingest_file
    from tools.content.profiling import profile_staged
    from tools.content.source_config import load_source_config
    from tools.content.sources import SourceRegistry

    settings = _quiet_settings(home)
    engine = open_store(settings)
    registry = SourceRegistry(engine, tenant=settings.tenant)
    # warm-up: the first ingest of a process pays one-off imports (readers, glossary, store)
    warm = home / "warmup.csv"
    warm.write_text("PolicyNo;EffDate\nP1;2024-01-01\n", encoding="utf-8")
    ingest_file(engine, settings, warm, fmt="csv", options={"delimiter": ";", "header": True})
    rows = []
    for entry in load_source_config(estate / "sources.yaml").sources:
        t0 = time.perf_counter()
        result = ingest_entry(
            engine,
            settings,
            entry,
        )
        ingest = time.perf_counter() - t0
        info = registry.get(result.source_id)
        t1 = time.perf_counter()
        profile = profile_staged(info.records_path)
        prof = time.perf_counter() - t1
        invalid = sum((c.get("invalid_dates") or {}).get("count", 0) for c in profile["columns"])
        rows.append(
            {
                "name": entry.name,
                "system": entry.system,
                "format": entry.format,
                "records": result.records,
                "bad": result.bad_records,
                "bytes": entry.path.stat().st_size,
                "ingest_s": ingest,
                "profile_s": prof,
                "invalid_dates": invalid,
            }
        )
    return {"rows": rows, "peak_mib": _peak_mib()}


def run_estate(work: Path, policies: int, seed: int) -> None:
    from evals.estate import generate_estate

    estate = work / "estate"
    shutil.rmtree(work / "ws_estate", ignore_errors=True)
    t0 = time.perf_counter()
    generate_estate(estate, policies=policies, seed=seed)
    gen = time.perf_counter() - t0
    print(
        f"\n(b) ingest + profile per source, estate of {policies:,} policies "
        f"(generated in {gen:.1f} s; embeddings off)"
    )
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--estate-child",
            str(estate),
            "--workdir",
            str(work / "ws_estate"),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=_child_env(),
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"    {'source':<18} {'format':<7} {'records':>9} {'MiB':>6} {'ingest s':>9} "
        f"{'of which':>9} {'rec/s':>9} {'bad':>5} {'inv.dates':>9}"
    )
    print(f"    {'':<18} {'':<7} {'':>9} {'':>6} {'(total)':>9} {'profile':>9}")
    by_system: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for r in data["rows"]:
        print(
            f"    {r['name']:<18} {r['format']:<7} {r['records']:>9,} "
            f"{r['bytes'] / 2**20:>6.1f} {r['ingest_s']:>9.2f} {r['profile_s']:>9.2f} "
            f"{r['records'] / r['ingest_s']:>9,.0f} {r['bad']:>5} {r['invalid_dates']:>9}"
        )
        acc = by_system[r["system"]]
        acc[0] += r["records"]
        acc[1] += r["ingest_s"]
        acc[2] += r["profile_s"]
    print(f"\n    {'system':<18} {'records':>9} {'ingest s':>9} {'profile s':>9}")
    for system, (n, ing, prof) in by_system.items():
        print(f"    {system:<18} {int(n):>9,} {ing:>9.2f} {prof:>9.2f}")
    total_n = sum(int(v[0]) for v in by_system.values())
    total_i = sum(v[1] for v in by_system.values())
    total_p = sum(v[2] for v in by_system.values())
    print(
        f"    {'TOTAL':<18} {total_n:>9,} {total_i:>9.2f} {total_p:>9.2f}   "
        f"({total_n / total_i:,.0f} records/s; peak RSS {data['peak_mib']:.0f} MiB)"
    )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DATA_MASH_EMBEDDING_PROVIDER"] = "none"
    return env


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=350_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-estate", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    ap.add_argument("--memory-child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--estate-child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--options", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, json.loads(args.options), args.workdir)))
        return
    if args.estate_child:
        print(json.dumps(estate_child(args.estate_child, args.workdir)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not args.no_memory:
            run_memory(work, [args.small, args.big])
        if not args.no_estate:
            run_estate(work, args.policies, args.seed)


if __name__ == "__main__":
    main()
