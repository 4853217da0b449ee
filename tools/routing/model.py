"""The parsed form of a routing rule set and the results the engine returns."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeAlias

from tools.routing.fields import FieldKind


class Operator(StrEnum):
    """Predicate operators a rule may use."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    LESS_THAN = "less_than"
    LESS_OR_EQUAL = "less_or_equal"
    GREATER_THAN = "greater_than"
    GREATER_OR_EQUAL = "greater_or_equal"
    BETWEEN = "between"
    MATCHES = "matches"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


#: Operators that order values; invalid on text, boolean and list fields.
ORDERING = frozenset(
    {
        Operator.LESS_THAN,
        Operator.LESS_OR_EQUAL,
        Operator.GREATER_THAN,
        Operator.GREATER_OR_EQUAL,
        Operator.BETWEEN,
    }
)
NULL_TESTS = frozenset({Operator.IS_NULL, Operator.NOT_NULL})
#: Operators whose string comparisons honour ``ignore_case``.
TEXTUAL = frozenset(
    {Operator.EQUALS, Operator.NOT_EQUALS, Operator.IN, Operator.NOT_IN, Operator.MATCHES}
)

Scalar: TypeAlias = str | float | int | bool | dt.date


@dataclass(frozen=True)
class Always:
    """``condition: true``: holds for every policy."""


@dataclass(frozen=True)
class Predicate:
    """One test of one field. ``value`` is a tuple for in/not_in/between, None for null tests.

    A comparison with a missing value is false (only ``is_null`` holds for it), so every
    condition is a plain true/false function of the record and ``not`` simply inverts it.
    """

    field: str
    kind: FieldKind
    operator: Operator
    value: Scalar | tuple[Scalar, ...] | None
    ignore_case: bool = False
    line: int | None = dataclasses.field(default=None, compare=False)

    @property
    def options(self) -> tuple[Scalar, ...]:
        """The value list of in/not_in (a 1-tuple for other operators with a value)."""
        if isinstance(self.value, tuple):
            return self.value
        return () if self.value is None else (self.value,)

    @property
    def bounds(self) -> tuple[Scalar, Scalar]:
        """(low, high) of ``between``."""
        low, high = self.options
        return low, high


@dataclass(frozen=True)
class AllOf:
    """Holds when every child holds."""

    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """Holds when at least one child holds."""

    children: tuple[Condition, ...]


@dataclass(frozen=True)
class NotOf:
    """Holds when its child does not."""

    child: Condition


Condition: TypeAlias = Always | Predicate | AllOf | AnyOf | NotOf


@dataclass(frozen=True)
class Rule:
    """A named condition routing matching policies to ``target``; lowest priority wins."""

    name: str
    condition: Condition
    target: str
    priority: int
    description: str = ""
    line: int | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class Issue:
    """One validation finding, located by rule name and YAML line."""

    rule: str | None
    line: int | None
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "rule set"
        if self.column is not None:
            where += f", column {self.column}"
        who = f"rule {self.rule!r}" if self.rule else "rule set"
        return f"{where}: {who}: {self.message}"


@dataclass
class ValidationReport:
    """Everything wrong with a rule set (errors) or worth a look (warnings)."""

    errors: list[Issue] = dataclasses.field(default_factory=list)
    warnings: list[Issue] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set; ``rules`` are sorted by priority (first match wins)."""

    version: str
    rules: tuple[Rule, ...]
    canonical: str | None = None
    source: str = "<text>"
    digest: str = ""
    warnings: tuple[Issue, ...] = ()

    def rule(self, name: str) -> Rule:
        """Return the rule called ``name`` (KeyError if absent)."""
        for candidate in self.rules:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


@dataclass(frozen=True)
class Decision:
    """Where one policy goes and why. ``target``/``rule`` are None when no rule matched."""

    target: str | None
    rule: str | None
    explanation: str


def render_value(value: Any) -> str:
    """Render a value as rules and explanations show it (strings quoted, dates ISO)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return str(value)


def render_condition(condition: Condition) -> str:
    """Render a condition as one readable line (used in warnings and explanations)."""
    if isinstance(condition, Always):
        return "true"
    if isinstance(condition, Predicate):
        text = f"{condition.field} {condition.operator.value}"
        if condition.operator is Operator.BETWEEN:
            low, high = condition.bounds
            text += f" {render_value(low)} and {render_value(high)}"
        elif condition.operator not in NULL_TESTS:
            text += f" {render_value(condition.value)}"
        return text + (" (ignore case)" if condition.ignore_case else "")
    if isinstance(condition, NotOf):
        return f"not ({render_condition(condition.child)})"
    joiner = " and " if isinstance(condition, AllOf) else " or "
    return "(" + joiner.join(render_condition(c) for c in condition.children) + ")"


def predicates(condition: Condition) -> list[Predicate]:
    """Return every predicate inside a condition, depth first."""
    if isinstance(condition, Predicate):
        return [condition]
    if isinstance(condition, NotOf):
        return predicates(condition.child)
    if isinstance(condition, AllOf | AnyOf):
        return [p for child in condition.children for p in predicates(child)]
    return []
