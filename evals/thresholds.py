"""Per-suite thresholds: the packaged defaults, overrides from a file, and the check itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputError
from evals.result import SuiteResult, SuiteStatus

DEFAULTS = Path(__file__).with_name("thresholds.yaml")
ENV = "DATA_MASH_EVAL_THRESHOLDS"
Bounds = dict[str, dict[str, float]]


def _read(path: Path) -> dict[str, Bounds]:
    if not path.is_file():
        raise InputError(
            "thresholds file not found",
            where=str(path),
            fix="give an existing YAML file (layout as evals/thresholds.yaml)",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            where=where,
            fix="fix the YAML syntax",
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            "must be a mapping of suite -> metric -> {min|max: number}",
            where=str(path),
            fix="see evals/thresholds.yaml",
        )
    for suite, metrics in data.items():
        if not isinstance(metrics, dict):
            raise InputError(
                f"suite '{suite}' must map metric names to bounds",
                where=str(path),
                fix="write e.g. content: {cobrix.pass_rate: {min: 1.0}}",
            )
        for metric, bound in metrics.items():
            ok = (
                isinstance(bound, dict)
                and bound
                and set(bound) <= {"min", "max"}
                and all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in bound.values()
                )
            )
            if not ok:
                raise InputError(
                    f"{suite}.{metric}: bound must be {{min: N}} and/or {{max: N}}",
                    where=str(path),
                    fix="use numbers under min/max",
                )
    return data


def load_thresholds(override: Path | None = None) -> dict[str, Bounds]:
    """Defaults, then ``DATA_MASH_EVAL_THRESHOLDS``, then ``override`` (metric by metric)."""
    merged = {suite: dict(metrics) for suite, metrics in _read(DEFAULTS).items()}
    for path in (Path(os.environ[ENV]) if os.environ.get(ENV) else None, override):
        if path is None:
            continue
        for suite, metrics in _read(path).items():
            merged.setdefault(suite, {}).update(metrics)
    return merged


def check(result: SuiteResult, bounds: Bounds) -> list[dict[str, Any]]:
    """Each bound of the suite against its figure; a missing figure is a miss (it says so).

    A suite that is unavailable is not checked: nothing was measured, and the report says why.
    """
    if result.status == SuiteStatus.UNAVAILABLE:
        return []
    rows = []
    for metric, bound in bounds.items():
        value = result.metrics.get(metric)
        for kind, limit in bound.items():
            if value is None:
                ok, why = False, "not measured in this run"
            elif kind == "min":
                ok, why = value >= limit, None
            else:
                ok, why = value <= limit, None
            rows.append(
                {
                    "suite": result.suite,
                    "metric": metric,
                    "bound": kind,
                    "limit": limit,
                    "value": value,
                    "ok": ok,
                    **({"why": why} if why else {}),
                }
            )
    if result.status == SuiteStatus.ERROR:
        rows.append(
            {
                "suite": result.suite,
                "metric": "status",
                "bound": "equals",
                "limit": "ok",
                "value": "error",
                "ok": False,
                "why": result.reason,
            }
        )
    return rows


def describe_miss(row: dict[str, Any]) -> str:
    """One line for a missed threshold."""
    sign = ">=" if row["bound"] == "min" else "<=" if row["bound"] == "max" else "=="
    detail = f" ({row['why']})" if row.get("why") else ""
    return (
        f"threshold missed: {row['suite']} {row['metric']} = {row['value']}, "
        f"needs {sign} {row['limit']}{detail}"
    )
