"""Content suite, estate part: record counts, decoded values and found vs injected problems.

Problems the profiler reports, matched to the injected kinds:

- ``duplicate_id``: the profile's duplicate rows (rows beyond the first of each duplicated key)
  when its key column is the injected field;
- ``invalid_date``: the column's ``invalid_dates`` count;
- ``missing_mandatory``: the column's null count (a value missing where the system always
  fills one).

The other kinds (orphan references, inconsistent codes, out-of-range premiums) need checks
across sources or against code tables that the profiler does not make: they are listed with
``found: null`` and ``detector: none`` rather than scored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow.dataset as ds

from evals.estate_truth import Universe, expected_value, policy_number, problems, universe
from evals.result import CaseStatus, EvalConfig, SuiteResult
from evals.workspace import IngestedSource, estate_for, ingest_estate

DETECTED = {"duplicate_id", "invalid_date", "missing_mandatory"}
CHECKED_PATHS = (
    "policy_core.effective_date",
    "rating_components.premium_amount",
    "payments.outstanding_balance",
)
ID_PATH = "policy_core.policy_id"


def estate_part(config: EvalConfig, result: SuiteResult) -> None:
    """Ingest the estate and score counts, decoded values and problems."""

    estate, manifest = estate_for(config)
    sources = ingest_estate(config, estate)
    truth_map = json.loads((estate / "ground_truth" / "mapping.json").read_text("utf-8"))
    transforms = json.loads((estate / "ground_truth" / "transforms.json").read_text("utf-8"))
    injected = problems(estate)
    u = universe(manifest.policies, manifest.seed)

    mismatched = 0
    for src in sources:
        expected = manifest.source(src.name).records
        ok = src.info.records == expected
        mismatched += not ok
        result.cases.append(
            {
                "group": "estate_records",
                "id": src.name,
                "status": CaseStatus.of(ok),
                "records": src.info.records,
                "expected_records": expected,
                "quarantined": src.info.bad_records,
            }
        )
    result.metrics["estate.sources"] = len(sources)
    result.metrics["estate.records_mismatched"] = mismatched
    result.metrics["estate.records_match_rate"] = 1 - mismatched / len(sources) if sources else None

    checked = wrong = 0
    for src in sources:
        c, w, rows = decoded_values(
            src, truth_map.get(src.name, {}), transforms.get(src.name, {}), injected, u
        )
        checked, wrong = checked + c, wrong + w
        result.cases.extend(rows)
    result.metrics["estate.decoded_values_checked"] = checked
    result.metrics["estate.decoded_value_mismatches"] = wrong
    result.metrics["estate.decoded_value_accuracy"] = 1 - wrong / checked if checked else None
    problem_metrics(sources, injected, result)


def _staged_rows(src: IngestedSource, columns: list[str]) -> dict[str, list[Any]]:
    table = ds.dataset(src.info.records_path, format="parquet").to_table(columns=columns)
    return {name: table.column(name).to_pylist() for name in columns}


def decoded_values(
    src: IngestedSource,
    mapping: dict[str, str | None],
    transforms: dict[str, Any],
    injected: list[dict[str, Any]],
    u: Universe,
) -> tuple[int, int, list[dict[str, Any]]]:
    """Compare the source's policy-level values with the truth, skipping problem records."""
    id_col = next((c for c, p in mapping.items() if p == ID_PATH), None)
    staged = {c["name"] for c in src.info.columns}
    checks = [(c, p) for c, p in mapping.items() if p in CHECKED_PATHS and c in staged]
    if id_col is None or id_col not in staged or not checks:
        return 0, 0, []
    data = _staged_rows(src, [id_col] + [c for c, _ in checks])
    bad_rows = {p["record_index"] for p in injected if p["source"] == src.name}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    first_diff: dict[str, str] = {}
    for i, raw_id in enumerate(data[id_col]):
        number = policy_number(raw_id)
        if i in bad_rows or number is None or not 1 <= number <= u.n:
            continue  # injected problem, or an orphan reference: no true value to compare
        for column, path in checks:
            want = expected_value(u, number - 1, path, src.name)
            got = normalise(data[column][i], transforms.get(column) or {}, want)
            ok = (
                got == want
                if not isinstance(want, float)
                else (got is not None and abs(got - want) < 0.005)
            )
            counts[column]["checked"] += 1
            if not ok:
                counts[column]["wrong"] += 1
                first_diff.setdefault(
                    column, f"{raw_id}: decoded {data[column][i]!r} -> {got!r}, truth {want!r}"
                )
    rows = []
    for column, path in checks:
        c = counts[column]
        rows.append(
            {
                "group": "estate_values",
                "id": f"{src.name}.{column}",
                "target": path,
                "status": CaseStatus.of(not c["wrong"]),
                "checked": c["checked"],
                "wrong": c["wrong"],
                "first_difference": first_diff.get(column),
            }
        )
    return (
        sum(c["checked"] for c in counts.values()),
        sum(c["wrong"] for c in counts.values()),
        rows,
    )


def normalise(value: Any, transform: dict[str, Any], like: Any) -> Any:
    """A decoded cell as the truth's type: a date or an amount in currency units (or None)."""
    if value is None:
        return None
    if isinstance(like, dt.date):
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.datetime.strptime(
                str(value).strip(), transform.get("format", "%Y-%m-%d")
            ).date()
        except ValueError:
            return None
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    is_integral = isinstance(value, int) or (
        isinstance(value, str) and "." not in value and "," not in value
    )
    if transform.get("implied") and is_integral:
        amount = amount / (10 ** int(transform.get("scale", 2)))
    return float(amount)


def problem_metrics(
    sources: list[IngestedSource], injected: list[dict[str, Any]], result: SuiteResult
) -> None:
    """Found vs injected per (source, kind, field), and per kind overall."""
    by_key: Counter[tuple[str, str, str]] = Counter(
        (p["source"], p["kind"], p["field"]) for p in injected
    )
    profiles = {s.name: s.profile for s in sources}
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for (source, kind, field), count in sorted(by_key.items()):
        found = found_count(profiles.get(source), kind, field)
        row: dict[str, Any] = {
            "group": "estate_problems",
            "id": f"{source}.{field}:{kind}",
            "kind": kind,
            "injected": count,
            "found": found,
        }
        totals[kind]["injected"] += count
        if found is None:
            row.update(status="no_detector", detector="none")
        else:
            hit = min(found, count)
            row.update(status=CaseStatus.of(found == count), detector="profile")
            totals[kind]["detected"] += hit
            totals[kind]["found"] += found
            totals[kind]["excess"] += found - hit
            totals[kind]["scored"] += count
        result.cases.append(row)
    for kind, t in sorted(totals.items()):
        result.metrics[f"problems.{kind}.injected"] = t["injected"]
        if kind in DETECTED and t["scored"]:
            result.metrics[f"problems.{kind}.found"] = t["found"]
            result.metrics[f"problems.{kind}.recall"] = t["detected"] / t["scored"]
            result.metrics[f"problems.{kind}.excess"] = t["excess"]
            result.lower_is_better(f"problems.{kind}.excess")
        else:
            result.notes.append(
                f"{kind}: {t['injected']} injected, no profiler check finds "
                "this kind yet (not scored)"
            )


def found_count(profile: dict[str, Any] | None, kind: str, field: str) -> int | None:
    """What the profile reports for an injected (kind, field); None when nothing checks it."""
    if profile is None or kind not in DETECTED:
        return None
    if kind == "duplicate_id":
        keys = profile.get("key_columns") or []
        return int(profile.get("duplicate_rows") or 0) if keys == [field] else 0
    column = next((c for c in profile["columns"] if c["name"] == field), None)
    if column is None:
        return 0
    if kind == "invalid_date":
        return int((column.get("invalid_dates") or {}).get("count") or 0)
    return int(column.get("null_count") or 0)
