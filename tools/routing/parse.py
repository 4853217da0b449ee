"""Turn loaded YAML (mappings stamped with ``__line__``) into rules, collecting every problem."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from core.targets import canonical_target, target_help
from tools.routing.fields import FieldKind, resolve_field
from tools.routing.model import (
    NULL_TESTS,
    ORDERING,
    TEXTUAL,
    AllOf,
    Always,
    AnyOf,
    Condition,
    Issue,
    NotOf,
    Operator,
    Predicate,
    Rule,
    Scalar,
)
from tools.routing.values import has_wildcard
from tools.routing.yaml_lines import LINE_KEY

RULE_SET_KEYS = frozenset({"version", "canonical", "rules", "description"})
RULE_KEYS = frozenset({"name", "condition", "target", "priority", "ignore_case", "description"})
PREDICATE_KEYS = frozenset({"field", "operator", "value", "ignore_case"})
COMPOSITIONS = ("all", "any", "not")
_KIND_NOUN = {
    FieldKind.TEXT: "text",
    FieldKind.NUMBER: "a number",
    FieldKind.DATE: "a date",
    FieldKind.BOOLEAN: "true/false",
    FieldKind.LIST: "a list",
}


class _Invalid(Exception):
    """A value that cannot be used; the message is already user-facing."""


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _scalar(kind: FieldKind, value: Any, field: str) -> Scalar:
    """Check one rule value against its field kind and normalise it (numbers to float)."""
    mismatch = (
        f"type mismatch: value {value!r} is {_describe_type(value)} but {field} is "
        f"{_KIND_NOUN[kind]}"
    )
    if kind is FieldKind.TEXT:
        if isinstance(value, str):
            return value
        raise _Invalid(mismatch + "; quote the value to compare it as text")
    if kind is FieldKind.NUMBER:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _Invalid(mismatch + "; write a plain number")
    if kind is FieldKind.DATE:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise _Invalid(mismatch + "; write the date as YYYY-MM-DD")
    if isinstance(value, bool):
        return value
    raise _Invalid(mismatch + "; write true or false")


def _check_regex(pattern: Any) -> str:
    if not isinstance(pattern, str):
        raise _Invalid(f"matches needs a regex string, got {_describe_type(pattern)}")
    try:
        re.compile(pattern)
        # The compiled engine uses RE2, which rejects look-arounds and back-references.
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)  # empty: not compiled
    except (re.error, pa.ArrowInvalid) as exc:
        raise _Invalid(
            f"bad regex {pattern!r}: {exc}; use RE2 syntax (no look-arounds or back-references)"
        ) from None
    return pattern


def _value(kind: FieldKind, op: Operator, raw: Any, has_value: bool, field: str) -> Any:
    """Validate the ``value`` of a predicate for its operator and field kind."""
    if op in NULL_TESTS:
        if has_value and raw is not None:
            raise _Invalid(f"{op.value} takes no value; remove 'value'")
        return None
    if not has_value:
        raise _Invalid(f"{op.value} needs a 'value'")
    if op is Operator.MATCHES:
        return _check_regex(raw)
    if op in (Operator.IN, Operator.NOT_IN, Operator.BETWEEN):
        if not isinstance(raw, list) or not raw:
            raise _Invalid(f"{op.value} needs a non-empty list value, e.g. [a, b]")
        values = tuple(_scalar(kind, item, field) for item in raw)
        if op is Operator.BETWEEN:
            if len(values) != 2:
                raise _Invalid("between needs exactly two values: [low, high]")
            if values[0] > values[1]:  # type: ignore[operator]
                raise _Invalid(f"between {raw[0]} and {raw[1]}: low is above high; swap them")
        return values
    if isinstance(raw, list):
        raise _Invalid(f"{op.value} takes one value, not a list; use 'in' for a list")
    return _scalar(kind, raw, field)


class RuleParser:
    """Builds rules from loaded YAML and records every problem as an :class:`Issue`."""

    def __init__(self, fields: Mapping[str, FieldKind]) -> None:
        self.fields = fields
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        #: (name, priority, line) of every rule item, usable or not, for uniqueness checks.
        self.headers: list[tuple[str, int | None, int | None]] = []

    def error(self, rule: str | None, line: int | None, message: str) -> None:
        """Record an error."""
        self.errors.append(Issue(rule=rule, line=line, message=message))

    def rule(self, raw: Any, position: int, parent_line: int | None) -> Rule | None:
        """Parse one item of ``rules``; None when it is unusable."""
        if not isinstance(raw, dict):
            self.error(None, parent_line, f"rules item {position} must be a mapping")
            return None
        line = raw.get(LINE_KEY)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error(None, line, f"rules item {position} needs a non-empty 'name'")
            name = f"#{position}"
        for key in sorted(set(raw) - RULE_KEYS - {LINE_KEY}, key=str):
            self.error(name, line, f"unknown key {key!r}; allowed: {', '.join(sorted(RULE_KEYS))}")
        target = raw.get("target")
        if not isinstance(target, str) or not target.strip():
            self.error(name, line, f"needs a non-empty 'target', one of: {target_help()}")
        else:
            try:  # one vocabulary: aliases (NewPlatformAPI) are stored by their canonical name
                target = canonical_target(target.strip())
            except InputError:
                self.error(name, line, f"unknown target {target!r}; use one of: {target_help()}")
                target = None
        priority = raw.get("priority")
        if not isinstance(priority, int) or isinstance(priority, bool):
            self.error(name, line, "needs an integer 'priority' (lowest number wins)")
            priority = None
        self.headers.append((name, priority, line))
        ignore_case = raw.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            self.error(name, line, "'ignore_case' must be true or false")
            ignore_case = False
        if "condition" not in raw:
            self.error(name, line, "needs a 'condition' (use `condition: true` for a default)")
            return None
        condition = self.condition(raw["condition"], name, line, ignore_case)
        description = raw.get("description") or ""
        if condition is None or not isinstance(target, str) or not isinstance(priority, int):
            return None
        return Rule(name, condition, target, priority, str(description), line)

    def condition(
        self, raw: Any, rule: str, line: int | None, ignore_case: bool
    ) -> Condition | None:
        """Parse a condition: ``true``, a predicate mapping, or all/any/not."""
        if raw is True:
            return Always()
        if not isinstance(raw, dict):
            self.error(
                rule,
                line,
                f"condition {raw!r} is not valid: write `true`, a mapping with "
                "field/operator/value, or all/any/not",
            )
            return None
        line = raw.get(LINE_KEY, line)
        keys = set(raw) - {LINE_KEY}
        composed = keys & set(COMPOSITIONS)
        if composed:
            if len(keys) != 1:
                self.error(rule, line, f"'{sorted(composed)[0]}' must be alone in its mapping")
                return None
            return self._composition(composed.pop(), raw, rule, line, ignore_case)
        return self._predicate(raw, keys, rule, line, ignore_case)

    def _composition(
        self, key: str, raw: dict[str, Any], rule: str, line: int | None, ignore_case: bool
    ) -> Condition | None:
        body = raw[key]
        if key == "not":
            child = self.condition(body, rule, line, ignore_case)
            return None if child is None else NotOf(child)
        if not isinstance(body, list) or not body:
            self.error(rule, line, f"'{key}' needs a non-empty list of conditions")
            return None
        children = [self.condition(item, rule, line, ignore_case) for item in body]
        if any(child is None for child in children):
            return None
        kept = tuple(c for c in children if c is not None)
        return AllOf(kept) if key == "all" else AnyOf(kept)

    def _predicate(
        self, raw: dict[str, Any], keys: set[Any], rule: str, line: int | None, ignore_case: bool
    ) -> Predicate | None:
        for key in sorted(keys - PREDICATE_KEYS, key=str):
            self.error(
                rule,
                line,
                f"unknown key {key!r} in condition; use field/operator/value/ignore_case "
                "or all/any/not",
            )
        written, op_name = raw.get("field"), raw.get("operator")
        path: str | None = None
        if not isinstance(written, str):
            self.error(rule, line, "condition needs a 'field' (canonical path or derived field)")
        else:
            path, problem = resolve_field(written, self.fields)
            if problem:
                self.error(rule, line, problem)
        if op_name is None:
            self.error(rule, line, "condition needs an 'operator' (e.g. equals, in, less_than)")
            return None
        try:
            op = Operator(str(op_name))
        except ValueError:
            allowed = ", ".join(o.value for o in Operator)
            self.error(rule, line, f"unknown operator {op_name!r}; use one of: {allowed}")
            return None
        if path is None:
            return None
        kind = self.fields[path]
        local_case = raw.get("ignore_case")
        if local_case is not None and not isinstance(local_case, bool):
            self.error(rule, line, "'ignore_case' must be true or false")
        elif local_case and (kind is not FieldKind.TEXT or op not in TEXTUAL):
            self.warnings.append(
                Issue(rule, line, f"ignore_case has no effect on {op.value} of {path}")
            )
        if kind is FieldKind.LIST and op not in NULL_TESTS:
            self.error(rule, line, f"type mismatch: {path} is a list; only is_null/not_null apply")
            return None
        if op in ORDERING and kind in (FieldKind.TEXT, FieldKind.BOOLEAN):
            self.error(
                rule,
                line,
                f"type mismatch: {op.value} orders numbers or dates but {path} is "
                f"{_KIND_NOUN[kind]}; use equals/in/matches",
            )
            return None
        if op is Operator.MATCHES and kind is not FieldKind.TEXT:
            self.error(
                rule, line, f"type mismatch: matches needs text but {path} is {_KIND_NOUN[kind]}"
            )
            return None
        try:
            value = _value(kind, op, raw.get("value"), "value" in raw, path)
        except _Invalid as exc:
            self.error(rule, line, str(exc))
            return None
        if kind is not FieldKind.TEXT and op in (Operator.IN, Operator.NOT_IN):
            pass  # numbers and dates never carry wildcards
        elif op in (Operator.EQUALS, Operator.NOT_EQUALS) and has_wildcard(str(value)):
            self.warnings.append(
                Issue(
                    rule,
                    line,
                    f"{op.value} compares literally: "
                    f"{value!r} is not a wildcard; use 'in' for patterns",
                )
            )
        case = bool(local_case if isinstance(local_case, bool) else ignore_case)
        case = case and kind is FieldKind.TEXT and op in TEXTUAL
        return Predicate(path, kind, op, value, case, line)
