"""PNG charts of eval reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless machines and CI
import matplotlib.pyplot as plt  # noqa: E402


def calibration_chart(series: dict[str, list[dict[str, Any]]], path: Path, *, title: str) -> Path:
    """Reliability diagram: accuracy per confidence bucket, one line per matcher.

    Args:
        series: matcher name -> buckets (``lo``, ``hi``, ``count``, ``accuracy``).
        path: PNG to write.
        title: chart title.
    """
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, buckets in series.items():
        points = [((b["lo"] + b["hi"]) / 2, b["accuracy"]) for b in buckets if b["count"]]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence bucket (midpoint)")
    ax.set_ylabel("accuracy of proposals in the bucket")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def perf_chart(rows: list[dict[str, Any]], path: Path) -> Path:
    """Grouped bars: each benchmark figure next to its same-run baseline (log scale)."""
    labels = [f"{r['benchmark']}\n{r['unit']}" for r in rows]
    ours = [r["value"] or 0 for r in rows]
    base = [r["baseline_value"] or 0 for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4.5), dpi=100)
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], ours, width=0.4, label="data-mash")
    ax.bar([x + 0.2 for x in xs], base, width=0.4, label="baseline (same run)")
    for x, r in zip(xs, rows, strict=True):
        if r["value"] and r["baseline_value"]:
            ratio = r["value"] / r["baseline_value"]
            ax.annotate(
                f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2g}x",
                (x, max(r["value"], r["baseline_value"])),
                ha="center",
                va="bottom",
                fontsize="small",
            )
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize="small")
    if any(v > 0 for v in ours + base):
        ax.set_yscale("log")
    ax.set_ylabel("throughput (log scale)")
    ax.set_title("perf: figure vs baseline")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
