"""``--against previous.json``: which figures got better and which got worse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import InputError

#: Relative changes smaller than this are reported as unchanged (timing noise, float rounding).
TOLERANCE = 1e-9


def load_previous(path: Path, suite: str) -> dict[str, Any]:
    """Read an earlier report; InputError if it is not one, or is from another suite."""
    if not path.is_file():
        raise InputError(
            "file not found",
            where=str(path),
            fix="give the report.json of an earlier `data-mash eval` run",
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"{path}:{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        raise InputError(
            "not a JSON eval report",
            where=where,
            fix="give the report.json of an earlier `data-mash eval` run",
        ) from None
    if not isinstance(doc, dict) or "suite" not in doc or "metrics" not in doc:
        raise InputError(
            "not an eval report (no 'suite' and 'metrics' keys)",
            where=str(path),
            fix="give the report.json of an earlier `data-mash eval` run",
        )
    if doc["suite"] != suite:
        raise InputError(
            f"is a report of suite '{doc['suite']}', not '{suite}'",
            where=str(path),
            fix=f"compare with an earlier `data-mash eval {suite}` report",
        )
    return doc


def compare(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Metric by metric: better, worse, unchanged, new and gone (direction-aware).

    Returns:
        ``{"against", "better": [...], "worse": [...], "unchanged": [...], "new": [...],
        "gone": [...]}``; each changed row has ``metric``, ``before``, ``after``, ``change``.
    """
    now, before = current["metrics"], previous["metrics"]
    directions = {**previous.get("directions", {}), **current.get("directions", {})}
    out: dict[str, Any] = {
        "against": previous.get("created_at"),
        "better": [],
        "worse": [],
        "unchanged": [],
        "new": sorted(set(now) - set(before)),
        "gone": sorted(set(before) - set(now)),
    }
    for name in sorted(set(now) & set(before)):
        a, b = before[name], now[name]
        if not _number(a) or not _number(b):
            if a != b:
                out["worse" if b is None else "better" if a is None else "unchanged"].append(
                    {"metric": name, "before": a, "after": b, "change": None}
                )
            else:
                out["unchanged"].append(name)
            continue
        delta = b - a
        if abs(delta) <= TOLERANCE * max(abs(a), abs(b), 1.0):
            out["unchanged"].append(name)
            continue
        higher = directions.get(name, "higher") == "higher"
        row = {"metric": name, "before": a, "after": b, "change": delta}
        out["better" if (delta > 0) == higher else "worse"].append(row)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe(diff: dict[str, Any]) -> list[str]:
    """Plain lines for a terminal: one per changed metric."""
    lines = [f"compared with the run of {diff['against']}:"]
    for label in ("better", "worse"):
        for row in diff[label]:
            change = row["change"]
            sign = f"{change:+.4g}" if change is not None else "changed"
            lines.append(f"  {label:6} {row['metric']}: {row['before']} -> {row['after']} ({sign})")
    lines.append(
        f"  {len(diff['unchanged'])} unchanged, {len(diff['new'])} new, "
        f"{len(diff['gone'])} no longer measured"
    )
    return lines
