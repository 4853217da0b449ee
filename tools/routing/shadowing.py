"""Find rules that can never fire: a rule that comes first already matches all they match.

The check is sound but incomplete: it only reports a rule when subsumption is provable
(``condition: true`` earlier, identical conditions, narrower ranges or value lists on the same
field, all/any/not structure). Conditions are two-valued (a comparison with a missing value is
false), so plain set reasoning applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tools.routing.fields import FieldKind
from tools.routing.interpret import holds
from tools.routing.model import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    Issue,
    NotOf,
    Operator,
    Predicate,
    Rule,
    predicates,
    render_condition,
)
from tools.routing.values import has_wildcard

_Bound = tuple[Any, bool]  # (value, inclusive); value None = unbounded


def _finite_values(predicate: Predicate) -> tuple[Any, ...] | None:
    """The exact values a predicate admits, when it admits finitely many known ones."""
    if predicate.ignore_case and predicate.kind is FieldKind.TEXT:
        return None  # admits every case variant
    if predicate.operator is Operator.EQUALS:
        return (predicate.value,)
    if predicate.operator is Operator.IN:
        if not any(isinstance(v, str) and has_wildcard(v) for v in predicate.options):
            return predicate.options
    return None


def _interval(predicate: Predicate) -> tuple[_Bound, _Bound] | None:
    if predicate.kind not in (FieldKind.NUMBER, FieldKind.DATE):
        return None
    value, op = predicate.value, predicate.operator
    table = {
        Operator.EQUALS: ((value, True), (value, True)),
        Operator.LESS_THAN: ((None, False), (value, False)),
        Operator.LESS_OR_EQUAL: ((None, False), (value, True)),
        Operator.GREATER_THAN: ((value, False), (None, False)),
        Operator.GREATER_OR_EQUAL: ((value, True), (None, False)),
    }
    if op is Operator.BETWEEN:
        low, high = predicate.bounds
        return (low, True), (high, True)
    return table.get(op)


def _inside(inner: tuple[_Bound, _Bound], outer: tuple[_Bound, _Bound]) -> bool:
    (a_lo, a_lo_in), (a_hi, a_hi_in) = inner
    (b_lo, b_lo_in), (b_hi, b_hi_in) = outer
    low_ok = b_lo is None or (
        a_lo is not None and (a_lo > b_lo or (a_lo == b_lo and (b_lo_in or not a_lo_in)))
    )
    high_ok = b_hi is None or (
        a_hi is not None and (a_hi < b_hi or (a_hi == b_hi and (b_hi_in or not a_hi_in)))
    )
    return low_ok and high_ok


def _literal_prefix(pattern: str) -> str:
    cut = min((i for i, c in enumerate(pattern) if c in "*?"), default=len(pattern))
    return pattern[:cut]


def _patterns_covered(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """Every string matching one of ``inner`` matches one of ``outer`` (sufficient check)."""

    def covered(pattern: str) -> bool:
        for candidate in outer:
            if candidate in (pattern, "*"):
                return True
            stem = candidate[:-1]
            if candidate.endswith("*") and not has_wildcard(stem):
                if _literal_prefix(pattern).startswith(stem):
                    return True
        return False

    return all(covered(p) for p in inner)


def _predicate_implies(a: Predicate, b: Predicate) -> bool:
    if a.field != b.field:
        return False
    if b.operator is Operator.NOT_NULL:
        return a.operator is not Operator.IS_NULL
    if a.operator in (Operator.IS_NULL, Operator.NOT_NULL):
        return a.operator is b.operator
    range_a, range_b = _interval(a), _interval(b)
    if range_a and range_b:
        return _inside(range_a, range_b)
    same_case = a.ignore_case == b.ignore_case
    if a.operator is Operator.IN and b.operator is Operator.IN and same_case:
        return _patterns_covered(tuple(str(v) for v in a.options), tuple(str(v) for v in b.options))
    negative = (Operator.NOT_EQUALS, Operator.NOT_IN)
    if a.operator in negative and b.operator in negative and same_case:
        return set(b.options) <= set(a.options)
    return False


def implies(a: Condition, b: Condition) -> bool:
    """True when every policy satisfying ``a`` provably satisfies ``b``."""
    if isinstance(b, Always) or a == b:
        return True
    if isinstance(a, Always):
        return False
    if isinstance(a, AnyOf):
        return all(implies(child, b) for child in a.children)
    if isinstance(b, AllOf):
        return all(implies(a, child) for child in b.children)
    if isinstance(a, Predicate):
        values = _finite_values(a)
        if values is not None and {p.field for p in predicates(b)} == {a.field}:
            # b only looks at a's field, and a pins that field to known values: just try them.
            return all(holds(b, {a.field: v}) for v in values)
    if isinstance(a, AllOf) and any(implies(child, b) for child in a.children):
        return True
    if isinstance(b, AnyOf):
        return any(implies(a, child) for child in b.children)
    if isinstance(a, NotOf) and isinstance(b, NotOf):
        return implies(b.child, a.child)
    if isinstance(a, Predicate) and isinstance(b, Predicate):
        return _predicate_implies(a, b)
    return False


def _covering_rules(condition: Condition, earlier: Sequence[Rule]) -> list[Rule] | None:
    """Earlier rules that together match everything ``condition`` matches, or None."""
    if isinstance(condition, AnyOf):
        found: list[Rule] = []
        for child in condition.children:
            cover = _covering_rules(child, earlier)
            if cover is None:
                return None
            found.extend(r for r in cover if r not in found)
        return found
    for rule in earlier:
        if implies(condition, rule.condition):
            return [rule]
    if implies(condition, AnyOf(tuple(rule.condition for rule in earlier))):
        return list(earlier)
    return None


def shadowed_rules(rules: Sequence[Rule]) -> list[Issue]:
    """Errors for rules that can never fire; ``rules`` must be sorted by priority."""
    issues = []
    for index, rule in enumerate(rules):
        earlier = rules[:index]
        catch_all = next((r for r in earlier if isinstance(r.condition, Always)), None)
        if catch_all is not None:
            cover: list[Rule] | None = [catch_all]
        elif earlier:
            cover = _covering_rules(rule.condition, earlier)
        else:
            cover = None
        if cover:
            names = ", ".join(f"{r.name!r} (priority {r.priority}, line {r.line})" for r in cover)
            issues.append(
                Issue(
                    rule.name,
                    rule.line,
                    f"shadowed: can never fire: every policy it matches "
                    f"({render_condition(rule.condition)}) is matched first by {names}; "
                    "give it a lower priority number or remove it",
                )
            )
    return issues


def default_route_warning(rules: Sequence[Rule]) -> Issue | None:
    """A warning naming the policies that fall through when no rule is ``condition: true``."""
    if any(isinstance(rule.condition, Always) for rule in rules):
        return None
    unmatched = " and ".join(f"not ({render_condition(r.condition)})" for r in rules)
    return Issue(
        None,
        None,
        f"no default route: policies where {unmatched or 'anything'} get no target; add a "
        "last rule with `condition: true` (e.g. target CoexistenceBridge)",
    )
