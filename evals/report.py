"""The eval report: one JSON document with stable keys, a Markdown rendering and PNG charts.

Stable top-level keys: ``suite``, ``status``, ``metrics``, ``cases``, ``baselines``,
``environment`` (plus ``thresholds``, ``suites``, ``directions``, ``config``, ``notes``,
``files``). For ``all`` the metrics and baselines of each suite are prefixed with its name
(``content.cobrix.pass_rate``) and every case row names its suite.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.charts import calibration_chart, perf_chart
from evals.markdown import render_markdown
from evals.result import EvalConfig, SuiteResult, SuiteStatus

PACKAGES = (
    "data-mash",
    "numpy",
    "pyarrow",
    "rapidfuzz",
    "matplotlib",
    "sqlalchemy",
    "typer",
    "torch",
    "sentence-transformers",
    "chromadb",
    "valentine",
)
REPORT_JSON, REPORT_MD = "report.json", "report.md"


def environment() -> dict[str, Any]:
    """Where the figures were measured: interpreter, machine, package versions, git commit."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def build_document(
    suite: str, results: list[SuiteResult], config: EvalConfig, thresholds: list[dict[str, Any]]
) -> dict[str, Any]:
    """Combine suite results into the report document."""
    combined = suite == "all"
    metrics: dict[str, Any] = {}
    directions: dict[str, str] = {}
    baselines: dict[str, Any] = {}
    cases: list[dict[str, Any]] = []
    notes: list[str] = []
    for r in results:
        prefix = f"{r.suite}." if combined else ""
        metrics.update({prefix + k: v for k, v in r.metrics.items()})
        directions.update({prefix + k: v for k, v in r.directions.items()})
        baselines.update({prefix + k: v for k, v in r.baselines.items()})
        cases.extend({"suite": r.suite, **c} for c in r.cases)
        notes.extend(f"{r.suite}: {n}" if combined else n for n in r.notes)
    statuses = {r.status for r in results}
    status = (
        results[0].status
        if len(results) == 1
        else (SuiteStatus.OK if statuses == {SuiteStatus.OK} else SuiteStatus.PARTIAL)
    )
    return {
        "suite": suite,
        "status": status,
        "reason": results[0].reason if len(results) == 1 else None,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "policies": config.policies,
            "seed": config.seed,
            "cobrix_corpus": str(config.cobrix_corpus),
            "schema_corpus": str(config.schema_corpus),
            "semantic": config.semantic,
        },
        "suites": {
            r.suite: {"status": r.status, "reason": r.reason, "seconds": r.seconds} for r in results
        },
        "metrics": metrics,
        "directions": directions,
        "cases": cases,
        "baselines": baselines,
        "thresholds": thresholds,
        "notes": notes,
        "environment": environment(),
        "files": [],
    }


def write_report(document: dict[str, Any], results: list[SuiteResult], out_dir: Path) -> list[Path]:
    """Write report.json, report.md and the charts into ``out_dir``; returns the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for r in results:
        prefix = f"{r.suite}-" if document["suite"] == "all" else ""
        if r.charts.get("calibration"):
            files.append(
                calibration_chart(
                    r.charts["calibration"],
                    out_dir / f"{prefix}calibration.png",
                    title=f"{r.suite}: accuracy per confidence bucket",
                )
            )
        if r.charts.get("perf"):
            files.append(perf_chart(r.charts["perf"], out_dir / f"{prefix}perf.png"))
    json_path, md_path = out_dir / REPORT_JSON, out_dir / REPORT_MD
    document["files"] = [str(p) for p in (json_path, md_path, *files)]
    json_path.write_text(
        json.dumps(document, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    md_path.write_text(render_markdown(document, [p.name for p in files]), encoding="utf-8")
    return [json_path, md_path, *files]


def report_dir(home: Path, suite: str) -> Path:
    """``<home>/evals/<suite>-<timestamp>`` (a numbered suffix if two runs share a second)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = home / "evals" / f"{suite}-{stamp}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out
