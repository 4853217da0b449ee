"""map_to_canonical throughput and memory, against per-record pydantic validation in the same run.

A synthetic staged source (policy header, insured, premium in cents, dates as MM/DD/YYYY and
YYYYMMDD, codes through glossary tables, one coverage per record; ~3% of records carry a
problem) is mapped end to end: read staged Parquet, transforms, vectorised validation, canonical
Parquet + quarantine, audit checkpoint per batch. The baseline validates a sample of the same
candidates one record at a time with the pydantic v1 model (`validation_errors`). Peak memory
(RSS) is measured in a child process per size, so 35k and 350k records can be compared.
Rates are per CPU-second with Arrow limited to one thread (wall rates too, which depend on
how busy the machine is).

    python benchmarks/bench_mapping.py [--records 350000] [--small 35000] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RULES = [
    {"source": "POL_NO", "target": "policy_core.policy_id"},
    {
        "source": "STAT",
        "target": "policy_core.status",
        "transform": {"kind": "code", "table": "policy_status"},
    },
    {
        "source": "EFF_DT",
        "target": "policy_core.effective_date",
        "transform": {"kind": "date", "format": "MM/DD/YYYY"},
    },
    {
        "source": "EXP_DT",
        "target": "policy_core.expiration_date",
        "transform": {"kind": "date", "format": "YYYYMMDD"},
    },
    {"source": "INSD_NM", "target": "policy_core.insured_party.name"},
    {
        "source": "INSD_NM",
        "target": "policy_core.insured_party.last_name",
        "transform": {"kind": "name_split", "part": "last"},
    },
    {
        "source": "ST",
        "target": "policy_core.insured_party.address.state",
        "transform": {"kind": "code", "table": "us_state"},
    },
    {"source": "ZIP", "target": "policy_core.insured_party.address.postal_code"},
    {
        "source": "PREM_CENTS",
        "target": "rating_components.premium_amount",
        "transform": {"kind": "money", "cents": True},
    },
    {
        "source": "MODE",
        "target": "rating_components.premium_frequency",
        "transform": {"kind": "code", "table": "payment_mode"},
    },
    {
        "source": "LOB",
        "target": "coverage_sections[].coverage_type",
        "transform": {"kind": "code", "table": "line_of_business"},
    },
    {
        "source": "LMT",
        "target": "coverage_sections[].limits.per_occurrence",
        "transform": {"kind": "money", "decimal_comma": True},
    },
]


def synthetic_source(rows: int, seed: int = 7) -> pa.Table:
    """A policy extract with ~3% problems, generated column-wise (fast at any size)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(rows)
    month, day, year = (
        rng.integers(1, 13, rows),
        rng.integers(1, 29, rows),
        rng.integers(1990, 2025, rows),
    )
    eff = np.char.add(
        np.char.add(
            np.char.add(np.char.zfill(month.astype(str), 2), "/"),
            np.char.add(np.char.zfill(day.astype(str), 2), "/"),
        ),
        year.astype(str),
    )
    exp = (year + 1) * 10000 + month * 100 + day
    bad = rng.random(rows) < 0.03
    kind = rng.integers(0, 4, rows)
    status = rng.choice(np.array(["A", "C", "E", "IF", "P"]), rows).astype(object)
    status[bad & (kind == 0)] = "ZZ"
    premium = rng.integers(1_000, 500_000, rows)
    premium[bad & (kind == 1)] *= -1
    eff = eff.astype(object)
    eff[bad & (kind == 2)] = "13/45/2020"
    exp[bad & (kind == 3)] = year[bad & (kind == 3)] * 10000 - 8000  # before effective
    names = np.char.add(
        np.char.add(rng.choice(np.array(["Ann", "Bob", "Cy"]), rows), " "),
        rng.choice(np.array(["Lee", "Ng", "Smith"]), rows),
    )
    return pa.table(
        {
            "POL_NO": np.char.add("P", np.char.zfill(idx.astype(str), 9)),
            "STAT": pa.array(status, pa.string()),
            "EFF_DT": pa.array(eff, pa.string()),
            "EXP_DT": exp,
            "INSD_NM": names,
            "ST": rng.choice(np.array(["CA", "New York", "TX", "fl"]), rows),
            "ZIP": np.char.zfill(rng.integers(1000, 99999, rows).astype(str), 5),
            "PREM_CENTS": premium,
            "MODE": rng.choice(np.array(["M", "Q", "A", "SA"]), rows),
            "LOB": rng.choice(np.array(["AUTO", "HO", "CGL", "UMB"]), rows),
            "LMT": np.char.add(rng.integers(1, 999, rows).astype(str), ".000,00"),
        }
    )


def stage(records: int, home: Path) -> str:
    """Stage `records` synthetic records and approve a mapping of them; returns the mapping id."""
    from core.settings import Settings
    from core.store import open_store
    from tests.tools.canonical.helpers import stage_source
    from tools.canonical import approve_mapping, create_mapping

    settings = Settings(home=home)
    engine = open_store(settings)
    source_id = stage_source(
        engine, settings, synthetic_source(records), name="bench", part_rows=100_000
    )
    info = create_mapping(engine, source_id, RULES)
    return approve_mapping(engine, info.mapping_id).mapping_id


def run_once(home: Path, mapping_id: str) -> dict[str, float]:
    """Map a staged source in a fresh process; returns rates and the process's peak RSS."""
    from core.settings import Settings
    from core.store import open_store
    from tools.canonical import map_to_canonical

    settings = Settings(home=home)
    engine = open_store(settings)
    pa.set_cpu_count(1)  # one core: Arrow kernels and Parquet I/O single-threaded
    pa.set_io_thread_count(1)
    cpu, start = time.process_time(), time.perf_counter()
    result = map_to_canonical(engine, settings, mapping_id)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "records": result.records,
        "valid": result.valid,
        "invalid": result.invalid,
        "seconds": seconds,
        "records_per_s": result.records / seconds,
        "cpu_seconds": cpu_seconds,
        "records_per_cpu_s": result.records / cpu_seconds,
        "peak_rss_mb": peak_mb,
    }


def pydantic_baseline(records: int) -> dict[str, float]:
    """Per-record pydantic validation of the same kind of candidates (dict building included)."""
    from knowledge.canonical import validation_errors
    from tools.canonical.build import build_candidates, compile_plan
    from tools.canonical.fastcheck import check_candidates
    from tools.canonical.reference import candidate_records
    from tools.canonical.rule_checks import parse_rules

    pa.set_cpu_count(1)
    table = synthetic_source(records, seed=11)
    plan = compile_plan(parse_rules(RULES), "policy_v1", table.schema)
    candidates = build_candidates(table.combine_chunks().to_batches()[0], plan)
    start = time.process_time()
    rejected = sum(bool(validation_errors(r)) for r in candidate_records(candidates))
    per_record = time.process_time() - start
    start = time.process_time()
    fast = check_candidates(candidates)
    vectorised = time.process_time() - start
    assert rejected == int((~fast.valid).sum())
    return {
        "records": records,
        "pydantic_records_per_s": records / per_record,
        "vectorised_check_records_per_s": records / vectorised,
    }


def _child(*args: str) -> object:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(records: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        mapping_id = _child("--stage", str(records), home)
        return _child("--map", home, str(mapping_id))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=350_000)
    parser.add_argument("--small", type=int, default=35_000)
    parser.add_argument("--baseline", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stage", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--map", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(int(args.stage[0]), Path(args.stage[1]))))
        return
    if args.map:
        print(json.dumps(run_once(Path(args.map[0]), args.map[1])))
        return
    report: dict[str, object] = {
        "small": _measure(args.small),
        "large": _measure(args.records),
        "baseline": pydantic_baseline(args.baseline),
    }
    report["speedup_vs_pydantic"] = (
        report["large"]["records_per_cpu_s"] / report["baseline"]["pydantic_records_per_s"]
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for size in ("small", "large"):
        r = report[size]
        print(
            f"map_to_canonical {r['records']:>8,} records: {r['records_per_cpu_s']:>9,.0f} "
            f"rec/CPU-s, {r['records_per_s']:>9,.0f} rec/s wall ({r['seconds']:.1f} s, "
            f"{r['invalid']:,} quarantined), peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    b = report["baseline"]
    print(
        f"per-record pydantic validation: {b['pydantic_records_per_s']:>9,.0f} rec/CPU-s; "
        f"vectorised checks alone: {b['vectorised_check_records_per_s']:,.0f} rec/CPU-s"
    )
    print(f"end-to-end speed-up over per-record validation: {report['speedup_vs_pydantic']:.1f}x")


if __name__ == "__main__":
    main()
