"""Load and validate routing rule sets (YAML) before anything is routed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from core.errors import InputError
from tools.routing.fields import DEFAULT_CANONICAL_VERSION, FieldKind, routable_fields
from tools.routing.model import (
    Always,
    Issue,
    Operator,
    RuleSet,
    ValidationReport,
    predicates,
)
from tools.routing.parse import RULE_SET_KEYS, RuleParser
from tools.routing.shadowing import default_route_warning, shadowed_rules
from tools.routing.yaml_lines import LINE_KEY, load_yaml_with_lines

RuleSource = str | os.PathLike[str]


def _read(path_or_text: RuleSource) -> tuple[str, str]:
    """Return (text, source label). A str is a path when it is one line naming a file."""
    if isinstance(path_or_text, os.PathLike) or (
        "\n" not in path_or_text
        and (path_or_text.endswith((".yaml", ".yml")) or os.path.isfile(path_or_text))
    ):
        path = Path(path_or_text)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except FileNotFoundError:
            raise InputError("rule file not found", where=str(path), fix="check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read rule file: {exc}", where=str(path), fix="save it as UTF-8 text"
            ) from None
    return str(path_or_text), "<text>"


def _parse(
    text: str,
    known_fields: Mapping[str, FieldKind | str] | None,
    canonical_version: str,
    source: str,
) -> tuple[RuleSet | None, ValidationReport]:
    report = ValidationReport()
    data, yaml_issues = load_yaml_with_lines(text)
    report.errors.extend(yaml_issues)
    if data is None:
        if not yaml_issues:
            report.errors.append(Issue(None, 1, "empty rule file; start with `routing_rules:`"))
        return None, report
    body = data.get("routing_rules") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        report.errors.append(Issue(None, 1, "top-level key `routing_rules:` (a mapping) missing"))
        return None, report
    line = body.get(LINE_KEY)
    for key in sorted(set(body) - RULE_SET_KEYS - {LINE_KEY}, key=str):
        report.errors.append(Issue(None, line, f"unknown key {key!r} in routing_rules"))
    version = body.get("version")
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        report.errors.append(Issue(None, line, 'routing_rules needs a version, e.g. "1.0.0"'))
    canonical = body.get("canonical")
    if canonical is not None and canonical != canonical_version:
        report.errors.append(
            Issue(
                None,
                line,
                f"rule set is written for canonical model {canonical!r} but this engine routes "
                f"{canonical_version!r}; migrate the rules or set `canonical: {canonical_version}`",
            )
        )
    raw_rules = body.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        report.errors.append(Issue(None, line, "routing_rules needs a non-empty `rules:` list"))
        return None, report

    parser = RuleParser(routable_fields(known_fields))
    parsed = [parser.rule(raw, i + 1, line) for i, raw in enumerate(raw_rules)]
    report.errors.extend(parser.errors)
    report.warnings.extend(parser.warnings)
    rules = [rule for rule in parsed if rule is not None]
    _check_unique(parser.headers, report)
    if report.errors:
        return None, report
    ordered = sorted(rules, key=lambda rule: rule.priority)
    report.errors.extend(shadowed_rules(ordered))
    fall_through = default_route_warning(ordered)
    if fall_through:
        report.warnings.append(fall_through)
    if report.errors:
        return None, report
    rule_set = RuleSet(
        version=str(version),
        rules=tuple(ordered),
        canonical=canonical,
        source=source,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        warnings=tuple(report.warnings),
    )
    return rule_set, report


def _check_unique(
    headers: list[tuple[str, int | None, int | None]], report: ValidationReport
) -> None:
    """Duplicate names and equal priorities, checked even on rules with other errors."""
    names: dict[str, int | None] = {}
    priorities: dict[int, tuple[str, int | None]] = {}
    for name, priority, line in headers:
        if name in names:
            report.errors.append(
                Issue(name, line, f"duplicate rule name (first at line {names[name]})")
            )
        names.setdefault(name, line)
        if priority is None:
            continue
        if priority in priorities:
            other, other_line = priorities[priority]
            report.errors.append(
                Issue(
                    name,
                    line,
                    f"priority {priority} is also used by rule {other!r} (line {other_line}); "
                    "equal priorities make the order ambiguous: pick another",
                )
            )
        priorities.setdefault(priority, (name, line))


def validate_rule_set(
    path_or_text: RuleSource,
    *,
    known_fields: Mapping[str, FieldKind | str] | None = None,
    canonical_version: str = DEFAULT_CANONICAL_VERSION,
) -> ValidationReport:
    """Check a rule set without raising.

    Args:
        path_or_text: A rule file path, or the YAML text itself.
        known_fields: Canonical leaf paths and kinds (default: the v1 catalogue in
            ``tools.routing.fields``); derived fields are always added.
        canonical_version: The canonical model the rules must target.

    Returns:
        Every error and warning, each with the rule name and YAML line.
    """
    text, source = _read(path_or_text)
    return _parse(text, known_fields, canonical_version, source)[1]


def load_rule_set(
    path_or_text: RuleSource,
    *,
    known_fields: Mapping[str, FieldKind | str] | None = None,
    canonical_version: str = DEFAULT_CANONICAL_VERSION,
) -> RuleSet:
    """Load and validate a rule set; warnings are kept on ``RuleSet.warnings``.

    Raises:
        InputError: listing every validation error (rule name and line each).
    """
    text, source = _read(path_or_text)
    rule_set, report = _parse(text, known_fields, canonical_version, source)
    if rule_set is None:
        listing = "; ".join(str(issue) for issue in report.errors)
        raise InputError(
            f"{len(report.errors)} problem(s) in the routing rules: {listing}",
            where=source,
            fix="correct the rules listed and load again",
        )
    return rule_set


def null_field_warnings(
    rule_set: RuleSet, null_counts: Mapping[str, int], row_count: int, source: str
) -> list[Issue]:
    """Warn about rules testing a field that is null in every row of a source.

    Args:
        rule_set: The loaded rules.
        null_counts: Null count per canonical column of the source (e.g. from profiling).
        row_count: Rows in the source.
        source: Source name, for the message.

    Returns:
        One warning per (rule, field) whose column is entirely null; fields absent from
        ``null_counts`` are taken as unmapped, hence always null, too.
    """
    if row_count <= 0:
        return []
    issues = []
    for rule in rule_set.rules:
        if isinstance(rule.condition, Always):
            continue
        seen: set[str] = set()
        for predicate in predicates(rule.condition):
            if predicate.field in seen or null_counts.get(predicate.field, row_count) < row_count:
                continue
            seen.add(predicate.field)
            effect = (
                "holds for every policy"
                if predicate.operator is Operator.IS_NULL
                else "never holds"
            )
            issues.append(
                Issue(
                    rule.name,
                    predicate.line,
                    f"{predicate.field} is null in all {row_count} rows of source {source!r}, "
                    f"so `{predicate.field} {predicate.operator.value}` {effect} there; map the "
                    "field or adjust the rule",
                )
            )
    return issues
