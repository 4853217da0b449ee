"""Survivorship rules: which source wins a canonical field that several sources supply.

Proposed by default as source priority (the root first, then the components in order), and
overridable from YAML; every problem is reported with its line, like routing rules::

    rules:
      - field: policy_core.insured_party.address.city
        rule: source_priority          # or most_recent, first_non_null, must_agree
        sources: [policy_master, billing]
      - field: payments.outstanding_balance
        rule: must_agree
        sources: [policy_master, billing]
        tolerance: 0.01
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import InputError
from knowledge.canonical import fields
from tools.assembly.contracts import SurvivorshipRule
from tools.routing.yaml_lines import LINE_KEY, load_yaml_with_lines

FIX = "see `data-mash assembly propose --help` for the survivorship rule format"


def default_rules(suppliers: dict[str, list[str]]) -> list[SurvivorshipRule]:
    """Source priority for every field supplied by more than one source.

    Args:
        suppliers: canonical field -> source names supplying it, highest priority first.
    """
    numeric = {f.path for f in fields("policy_v1") if f.type in ("decimal", "integer")}
    return [
        SurvivorshipRule(
            field=path,
            rule="source_priority",
            sources=names,
            tolerance=0.01 if path in numeric else 0.0,
        )
        for path, names in sorted(suppliers.items())
        if len(names) > 1
    ]


def _error(path: Path, line: int | None, message: str) -> InputError:
    return InputError(message, where=f"{path}:{line}" if line else str(path), fix=FIX)


def load_rules(
    path: Path, *, sources: set[str], suppliers: dict[str, list[str]]
) -> list[SurvivorshipRule]:
    """Read survivorship rules from YAML, checked against the assembly's fields and sources.

    Raises:
        InputError: naming the file and line of the first problem: malformed YAML, an unknown
            canonical field, a source not in the assembly, a bad rule name or option.
    """
    return checked_rules(read_rules(path), sources=sources, suppliers=suppliers)


def read_rules(path: Path) -> list[tuple[str, SurvivorshipRule]]:
    """Survivorship rules from YAML, each with where it was written (``file:line``), not yet
    checked against an assembly.

    Raises:
        InputError: naming the file and line of malformed YAML or a malformed rule.
    """
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise _error(path, None, f"cannot read survivorship rules: {exc.strerror}") from None
    data, issues = load_yaml_with_lines(text)
    if issues:
        first = issues[0]
        raise _error(path, first.line, first.message)
    items = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise _error(path, 1, "expected a top-level 'rules:' list")
    out: list[tuple[str, SurvivorshipRule]] = []
    for item in items:
        line = item.get(LINE_KEY) if isinstance(item, dict) else None
        if not isinstance(item, dict):
            raise _error(path, line, "each rule is a mapping with field, rule and sources")
        body: dict[str, Any] = {k: v for k, v in item.items() if k != LINE_KEY}
        try:
            rule = SurvivorshipRule.model_validate(body)
        except ValidationError as exc:
            detail = exc.errors()[0]
            where = ".".join(str(p) for p in detail["loc"]) or "rule"
            raise _error(path, line, f"{where}: {detail['msg']}") from None
        out.append((f"{path}:{line}" if line else str(path), rule))
    return out


def checked_rules(
    rules: list[tuple[str, SurvivorshipRule]],
    *,
    sources: set[str],
    suppliers: dict[str, list[str]],
) -> list[SurvivorshipRule]:
    """Rules checked against the assembly (each with where it was written), plus the proposed
    rule of every other field several sources supply.

    Raises:
        InputError: naming where the first bad rule was written: an unknown canonical field, a
            source not in the assembly, most_recent without its date column.
    """
    known = {f.path for f in fields("policy_v1")}
    for where, rule in rules:
        if rule.field not in known:
            raise InputError(f"unknown canonical field '{rule.field}'", where=where, fix=FIX)
        unknown = [s for s in rule.sources if s not in sources]
        if unknown:
            raise InputError(
                f"source '{unknown[0]}' is not in this assembly (sources: "
                f"{', '.join(sorted(sources))})",
                where=where,
                fix=FIX,
            )
        if rule.rule == "most_recent" and not rule.date_column:
            raise InputError("most_recent needs date_column", where=where, fix=FIX)
    named = {r.field for _, r in rules}
    return [r for _, r in rules] + [r for r in default_rules(suppliers) if r.field not in named]
