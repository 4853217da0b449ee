"""Wall time and peak memory of `data-mash demo --policies N --json` (default 350,000).

Runs the real CLI in a subprocess on a fresh workspace, twice in the same run: the demo of
whole policies (relate, assemble every root, route and migrate whole policies, reconcile per
component) and, as the same-run baseline, the per-source journey it replaced
(``demo --per-source``). Each child's peak RSS comes from ``/usr/bin/time -v`` (a shared
getrusage would report the larger of the two); then the per-system counts are checked
against the estate manifest.

    python benchmarks/bench_demo.py [--policies 350000] [--seed 7] [--only whole|per-source]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evals.estate import load_manifest

REPO = Path(__file__).resolve().parents[1]


def run_demo(policies: int, seed: int, *, per_source: bool) -> dict[str, Any]:
    """One demo in a fresh workspace: wall seconds, peak MiB, its report."""
    with tempfile.TemporaryDirectory() as home:
        args = [
            "/usr/bin/time",
            "-v",
            sys.executable,
            "-m",
            "cli.main",
            "demo",
            "--policies",
            str(policies),
            "--seed",
            str(seed),
            "--json",
            *(["--per-source"] if per_source else []),
        ]
        start = time.perf_counter()
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env={"DATA_MASH_HOME": home, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
            cwd=REPO,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"demo failed: {done.stderr.strip()[-2000:]}")
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        report = json.loads(done.stdout)
        manifest = load_manifest(Path(report["estate"]["path"]))
        mismatches = [
            s["system"]
            for s in report["estate"]["systems"]
            if s["records"] != sum(manifest.source(n).records for n in s["sources"])
        ]
        return {
            "wall": wall,
            "peak_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
            "report": report,
            "mismatches": mismatches,
        }


def show(label: str, run: dict[str, Any]) -> None:
    report = run["report"]
    wave0 = report["waves"].get("wave0") or {}
    print(f"{label}")
    print(f"  wall time          {run['wall']:.1f} s")
    print(f"  peak RSS           {run['peak_mib']:.0f} MiB")
    print(f"  count mismatches   {run['mismatches'] or 'none'}")
    print(
        f"  wave 0             {wave0.get('status')}, {wave0.get('migrated', 0):,} migrated, "
        f"reconciliation {'passed' if report['reconciliation'].get('passed') else 'FAILED'}"
    )
    for step, value in report.items():
        if isinstance(value, dict) and "seconds" in value:
            print(f"    {step:16s} {value['seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["whole", "per-source"], default=None)
    args = parser.parse_args()
    print(f"policies           {args.policies:,}")
    runs = {}
    for label, per_source in (("whole", False), ("per-source", True)):
        if args.only in (None, label):
            runs[label] = run_demo(args.policies, args.seed, per_source=per_source)
            show(f"demo ({label})", runs[label])
    if len(runs) == 2:
        whole, base = runs["whole"], runs["per-source"]
        print(
            f"whole / per-source: wall {whole['wall'] / base['wall']:.2f}x, "
            f"peak RSS {whole['peak_mib'] / base['peak_mib']:.2f}x"
        )


if __name__ == "__main__":
    main()
