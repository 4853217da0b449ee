"""Perf suite: the benchmarks in benchmarks/ at a chosen size, each next to its same-run baseline.

Each benchmark runs in a fresh process (:mod:`evals.perf_worker`) so its peak memory is its own.
Size: ``--policies`` (records for decode). ``wave`` runs one wave saga into the new platform;
``demo`` is the whole journey end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals.perf_worker import BENCHMARKS
from evals.result import CaseStatus, EvalConfig, SuiteResult

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 3600


def run(config: EvalConfig) -> SuiteResult:
    """Run the chosen benchmarks; a failing one is a failed case, the others still run."""
    result = SuiteResult(suite="perf")
    names = config.perf_benchmarks or list(BENCHMARKS)
    rows = []
    for n, name in enumerate(names):
        config.note(f"perf: {name}", n, len(names))
        done = subprocess.run(
            [sys.executable, "-m", "evals.perf_worker", name, str(config.policies)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_S,
        )
        try:
            doc = json.loads(done.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            result.cases.append(
                {"group": "perf", "id": name, "status": CaseStatus.ERROR, "error": last}
            )
            continue
        if "unavailable" in doc:
            result.cases.append(
                {
                    "group": "perf",
                    "id": name,
                    "status": CaseStatus.UNAVAILABLE,
                    "error": doc["unavailable"],
                }
            )
            continue
        for fig in doc["figures"]:
            key = fig["benchmark"]
            result.metrics[f"{key}.rate"] = fig["value"]
            result.metrics[f"{key}.peak_rss_mb"] = doc["peak_rss_mb"]
            result.lower_is_better(f"{key}.peak_rss_mb")
            if fig["baseline_value"]:
                result.metrics[f"{key}.baseline_rate"] = fig["baseline_value"]
                result.metrics[f"{key}.speedup"] = round(fig["value"] / fig["baseline_value"], 2)
                rows.append(fig)
            result.cases.append(
                {
                    "group": "perf",
                    "id": key,
                    "status": "ok",
                    "peak_rss_mb": doc["peak_rss_mb"],
                    **fig,
                }
            )
    result.metrics["size"] = config.policies
    result.charts["perf"] = rows
    return result
