"""Checks a mapping rule must pass when it is set: target, source columns, transform, sample.

A transform is tried on a sample of the staged source (the first `SAMPLE_ROWS` records). A wrong
format fails on most values and is refused at once, naming the column and a value it could not
convert; a few stray bad values (the data-quality problems a migration exists to find) are let
through to be quarantined at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import TypeAdapter, ValidationError

from core.errors import InputError
from knowledge.canonical import mandatory_paths
from knowledge.glossary import list_code_tables
from tools.canonical.build import FAIL, build_candidates, compile_plan, unknown_target
from tools.canonical.dates import EXCEL, compile_format
from tools.canonical.model_tree import leaves_by_path, list_components
from tools.canonical.spec import CodeStep, DateStep, FieldRule
from tools.content.sources import SourceInfo
from tools.content.staging import staged_batches, staged_dataset

SAMPLE_ROWS = 1000
MAX_SAMPLE_FAILURE_RATE = 0.1
_RULES = TypeAdapter(list[FieldRule])


def parse_rules(rules: Iterable[FieldRule | dict[str, Any]]) -> list[FieldRule]:
    """Validate rule dicts into FieldRules.

    Raises:
        InputError: naming the rule (position and target) and the bad attribute.
    """
    raw = [r.model_dump() if isinstance(r, FieldRule) else r for r in rules]
    try:
        return _RULES.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        index = err["loc"][0] if err["loc"] else 0
        target = (
            raw[index].get("target")
            if isinstance(index, int) and isinstance(raw[index], dict)
            else None
        )
        where = ".".join(str(p) for p in err["loc"][1:]) or "rule"
        raise InputError(
            f"{where}: {err['msg']}",
            where=f"mapping rule {index}" + (f" ({target})" if target else ""),
            fix="see the mapping spec: source, target, transform, confidence, evidence, status",
        ) from None


def _check_steps(rule: FieldRule) -> None:
    where = f"mapping rule for {rule.target}"
    for step in rule.transform:
        if isinstance(step, DateStep) and step.format.lower() != EXCEL:
            try:
                compile_format(step.format)
            except ValueError as exc:
                fix = "e.g. MM/DD/YYYY, DD.MM.YYYY, YYYYMMDD, YYYYDDD, excel"
                raise InputError(str(exc), where=where, fix=fix) from None
        if isinstance(step, CodeStep) and step.table and step.table not in list_code_tables():
            raise InputError(
                f"unknown code table {step.table!r}",
                where=where,
                fix=f"use one of: {', '.join(list_code_tables())}",
            )
        if isinstance(step, CodeStep) and not step.table and not step.values:
            raise InputError(
                "a code transform needs a table or values",
                where=where,
                fix='e.g. {"kind": "code", "table": "policy_status"}',
            )


def source_schema(source: SourceInfo) -> pa.Schema:
    return staged_dataset(source.records_path).schema


def check_rules(rules: Sequence[FieldRule], source: SourceInfo, canonical: str) -> None:
    """Refuse rules naming unknown targets or columns, bad transforms, or failing on the sample.

    Raises:
        InputError: naming the rule, and for sample failures the column and value.
    """
    leaves = leaves_by_path(canonical)
    for rule in rules:
        if rule.target not in leaves:
            raise unknown_target(rule.target, canonical)
        _check_steps(rule)
    schema = source_schema(source)
    plan = compile_plan(list(rules), canonical, schema)
    if not plan.columns and not any(r.mapped for r in rules):
        return
    sample = next(
        iter(
            staged_batches(
                source.records_path, columns=plan.columns or None, batch_rows=SAMPLE_ROWS
            )
        ),
        None,
    )
    if sample is None:
        return
    sample = sample.slice(0, SAMPLE_ROWS)
    candidates = build_candidates(sample, plan)
    for compiled in [*plan.scalars, *[r for rs in plan.lists.values() for r in rs]]:
        _check_sample(candidates, compiled.rule, compiled.leaf.name, compiled.list_path)


def _check_sample(candidates: pa.Table, rule: FieldRule, name: str, list_path: str | None) -> None:
    if list_path is None:
        values, fails = candidates.column(name), candidates.column(FAIL + name)
    else:
        items = pc.list_flatten(candidates.column(list_path))
        values, fails = pc.struct_field(items, name), pc.struct_field(items, FAIL + name)
    failed = len(fails) - fails.null_count
    if not failed:
        return
    tried = failed + len(values) - values.null_count
    if failed / max(tried, 1) <= MAX_SAMPLE_FAILURE_RATE:
        return
    first = next(m for m in fails.to_pylist() if m is not None)
    raise InputError(
        f"the transform fails on {failed} of {tried} sample values: {first}",
        where=f"mapping rule for {rule.target} (source column {rule.source})",
        fix="check the transform (date format, implied decimals, decimal comma, code table) "
        "against the column's values: data-mash head / profile",
    )


def missing_required(
    rules: Sequence[FieldRule], canonical: str, *, whole_policy: bool = True
) -> list[str]:
    """Mandatory canonical fields no rule fills, plus required item fields of mapped lists.

    Without ``whole_policy`` (a component of an assembly fills a part of the policy), only the
    required item fields of the lists it fills."""
    mapped = {r.target for r in rules if r.mapped}

    missing = [p for p in mandatory_paths(canonical) if p not in mapped] if whole_policy else []
    for item in list_components(canonical):
        prefix = f"{item.list_path}[]."
        if not any(t.startswith(prefix) for t in mapped):
            continue
        for leaf in item.all_leaves():
            # Only leaves required directly in the item: a required field of an optional
            # sub-object is needed only when that object has values.
            if (
                leaf.required
                and leaf.path.count(".") == prefix.count(".")
                and leaf.path not in mapped
            ):
                missing.append(leaf.path)
    return missing
