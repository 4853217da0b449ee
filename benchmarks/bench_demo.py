"""Wall time and peak memory of `data-mash demo --policies N --json` (default 350,000).

Runs the real CLI in a subprocess on a fresh workspace, twice in the same run: the demo of
whole policies (relate, assemble every root, route and migrate whole policies, reconcile per
component) and, as the same-run baseline, the per-source journey it replaced
(``demo --per-source``). Each child's peak RSS comes from ``/usr/bin/time -v`` (a shared
getrusage would report the larger of the two; for a demo with helper processes, such as the
local embedding model's, it is the largest single process). The process tree is also sampled
every 0.2 s: the peak of the *sum* of its processes' RSS (what the machine really had to hold)
and each step's peak. Then the per-system counts are checked against the estate manifest.

    python benchmarks/bench_demo.py [--policies 350000] [--seed 7] [--only whole|per-source]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

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
        child = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"DATA_MASH_HOME": home, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
            cwd=REPO,
        )
        sampler = TreeRss(child.pid, start)
        stdout, stderr = child.communicate()
        sampler.stop()
        wall = time.perf_counter() - start
        if child.returncode != 0:
            sys.exit(f"demo failed: {stderr.strip()[-2000:]}")
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
        report = json.loads(stdout)
        manifest = load_manifest(Path(report["estate"]["path"]))
        mismatches = [
            s["system"]
            for s in report["estate"]["systems"]
            if s["records"] != sum(manifest.source(n).records for n in s["sources"])
        ]
        return {
            "wall": wall,
            "peak_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
            "tree_peak_mib": sampler.peak_tree / 2**20,
            "steps": sampler.by_step(report),
            "report": report,
            "mismatches": mismatches,
        }


class TreeRss:
    """Samples the RSS of a process tree (its largest process and the sum) every 0.2 s."""

    def __init__(self, pid: int, start: float) -> None:
        self.root = psutil.Process(pid)
        self.start = start
        self.samples: list[tuple[float, int, int]] = []  # (seconds, largest, sum)
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = []
            try:
                for proc in [self.root, *self.root.children(recursive=True)]:
                    try:
                        sizes.append(proc.memory_info().rss)
                    except psutil.Error:
                        continue
            except psutil.Error:
                break
            if sizes:
                self.samples.append((time.perf_counter() - self.start, max(sizes), sum(sizes)))
                self.peak_tree = max(self.peak_tree, sum(sizes))
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def by_step(self, report: dict[str, Any]) -> list[tuple[str, float, float, float]]:
        """Per step of the report (in order, by its ``seconds``): (step, seconds, largest
        process MiB, process tree MiB) at the step's peak."""
        out, at = [], 0.0
        for step, value in report.items():
            if not (isinstance(value, dict) and "seconds" in value):
                continue
            end = at + float(value["seconds"])
            inside = [s for s in self.samples if at <= s[0] < end + 0.5]
            out.append(
                (
                    step,
                    float(value["seconds"]),
                    max((s[1] for s in inside), default=0) / 2**20,
                    max((s[2] for s in inside), default=0) / 2**20,
                )
            )
            at = end
        return out


def show(label: str, run: dict[str, Any]) -> None:
    report = run["report"]
    wave0 = report["waves"].get("wave0") or {}
    print(f"{label}")
    print(f"  wall time          {run['wall']:.1f} s")
    print(f"  peak RSS           {run['peak_mib']:.0f} MiB (largest process)")
    print(f"  peak RSS, tree     {run['tree_peak_mib']:.0f} MiB (sum of its processes)")
    print(f"  count mismatches   {run['mismatches'] or 'none'}")
    print(
        f"  wave 0             {wave0.get('status')}, {wave0.get('migrated', 0):,} migrated, "
        f"reconciliation {'passed' if report['reconciliation'].get('passed') else 'FAILED'}"
    )
    for step, seconds, largest, tree in run["steps"]:
        print(f"    {step:16s} {seconds:6.1f} s  peak {largest:5.0f} MiB  tree {tree:5.0f} MiB")


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
            f"peak RSS {whole['peak_mib'] / base['peak_mib']:.2f}x, "
            f"tree {whole['tree_peak_mib'] / base['tree_peak_mib']:.2f}x"
        )


if __name__ == "__main__":
    main()
