"""The Markdown rendering of an eval report document (tables only; charts are linked)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_CASE_ROWS = 400


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) >= 1000 else f"{value:.4f}".rstrip("0").rstrip(".")
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(doc: dict[str, Any], charts: list[str]) -> str:
    """The report as Markdown: status, metrics, thresholds, baselines, cases, environment."""
    out = [
        f"# data-mash eval: {doc['suite']}",
        "",
        f"Run {doc['created_at']}, status **{doc['status']}**"
        + (f": {doc['reason']}" if doc.get("reason") else "")
        + ".",
        f"Estate: {doc['config']['policies']} policies, seed {doc['config']['seed']}.",
        "",
    ]
    out += [
        "## Suites",
        "",
        table(
            ["suite", "status", "seconds", "reason"],
            [(name, s["status"], s["seconds"], s["reason"]) for name, s in doc["suites"].items()],
        ),
        "",
    ]
    if doc["metrics"]:
        out += [
            "## Metrics",
            "",
            table(
                ["metric", "value", "better"],
                [
                    (k, v, doc["directions"].get(k, "higher"))
                    for k, v in sorted(doc["metrics"].items())
                ],
            ),
            "",
        ]
    if doc["thresholds"]:
        out += [
            "## Thresholds",
            "",
            table(
                ["suite", "metric", "bound", "limit", "value", "ok"],
                [
                    (
                        t["suite"],
                        t["metric"],
                        t["bound"],
                        t["limit"],
                        t["value"],
                        "yes" if t["ok"] else "**MISSED**",
                    )
                    for t in doc["thresholds"]
                ],
            ),
            "",
        ]
    if doc["baselines"]:
        out += ["## Baselines (same run)", ""]
        for name, base in doc["baselines"].items():
            why = f": {base['reason']}" if base.get("reason") else ""
            out.append(f"### {name} ({base.get('status', 'ok')}{why})")
            out.append("")
            if base.get("metrics"):
                out += [table(["metric", "value"], sorted(base["metrics"].items())), ""]
    if charts:
        out += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    if doc["cases"]:
        out += ["## Cases", ""]
        keys = _case_columns(doc["cases"])
        rows = [[c.get(k) for k in keys] for c in doc["cases"][:MAX_CASE_ROWS]]
        out += [table(keys, rows), ""]
        if len(doc["cases"]) > MAX_CASE_ROWS:
            out += [f"({len(doc['cases']) - MAX_CASE_ROWS} more cases in report.json)", ""]
    if doc["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    env = doc["environment"]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    out += [
        "## Environment",
        "",
        f"Python {env['python']} on {env['platform']}, {env['cpu_count']} CPUs, "
        f"commit {env['git_commit'] or 'unknown'}.",
        "",
        f"Packages: {packages}.",
        "",
    ]
    return "\n".join(out)


def _case_columns(cases: list[dict[str, Any]]) -> list[str]:
    """Columns in first-seen order, scalar values only (nested details stay in the JSON)."""
    seen: dict[str, None] = {}
    for case in cases:
        for key, value in case.items():
            if not isinstance(value, dict | list):
                seen.setdefault(key, None)
    return list(seen)
