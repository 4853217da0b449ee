"""Wall time and peak memory of `data-mash demo --policies N --json` (default 350,000).

Runs the real CLI in a subprocess on a fresh workspace and reads the child's peak RSS from
getrusage, then checks that the per-system counts it reports match the estate manifest.

    python benchmarks/bench_demo.py [--policies 350000] [--seed 7]
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

from evals.estate import load_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "demo",
                "--policies",
                str(args.policies),
                "--seed",
                str(args.seed),
                "--json",
            ],
            capture_output=True,
            text=True,
            env={"DATA_MASH_HOME": home, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
            cwd=Path(__file__).resolve().parents[1],
            check=False,
        )
        wall = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            sys.exit(f"demo failed: {done.stderr.strip()}")
        report = json.loads(done.stdout)
        manifest = load_manifest(Path(report["estate"]["path"]))
        mismatches = [
            s["system"]
            for s in report["estate"]["systems"]
            if s["records"] != sum(manifest.source(n).records for n in s["sources"])
        ]
        print(f"policies           {args.policies:,}")
        print(f"records            {report['estate']['records']:,}")
        print(f"wall time          {wall:.1f} s")
        print(f"peak RSS           {peak_mib:.0f} MiB")
        print(f"count mismatches   {mismatches or 'none'}")
        for step, value in report.items():
            if isinstance(value, dict) and "seconds" in value:
                print(f"  {step:16s} {value['seconds']:.1f} s")


if __name__ == "__main__":
    main()
