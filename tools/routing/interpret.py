"""Route one policy record by interpreting the rules, and say why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.routing.model import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    Decision,
    NotOf,
    Operator,
    Predicate,
    RuleSet,
    render_condition,
    render_value,
)
from tools.routing.values import coerce, matched_option, test_predicate

_SYMBOLS = {
    Operator.LESS_THAN: "<",
    Operator.LESS_OR_EQUAL: "<=",
    Operator.GREATER_THAN: ">",
    Operator.GREATER_OR_EQUAL: ">=",
}
_MISSING = object()


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """Read a field from a flat record (dotted keys, as in Arrow) or a nested one (None: absent)."""
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return None
    return node


def holds(condition: Condition, record: Mapping[str, Any]) -> bool:
    """Evaluate a condition on one record (missing values make comparisons false)."""
    if isinstance(condition, Always):
        return True
    if isinstance(condition, Predicate):
        return test_predicate(condition, coerce(condition.kind, lookup(record, condition.field)))
    if isinstance(condition, AllOf):
        return all(holds(child, record) for child in condition.children)
    if isinstance(condition, AnyOf):
        return any(holds(child, record) for child in condition.children)
    return not holds(condition.child, record)


def _explain_predicate(predicate: Predicate, record: Mapping[str, Any], held: bool) -> str:
    value = coerce(predicate.kind, lookup(record, predicate.field))
    seen = f"{predicate.field}={render_value(value)}"
    op = predicate.operator
    case = " (ignoring case)" if predicate.ignore_case else ""
    if op is Operator.IS_NULL:
        return f"{predicate.field} is null" if held else f"{seen} is not null"
    if op is Operator.NOT_NULL:
        return f"{seen} is not null" if held else f"{predicate.field} is null"
    if value is None:
        return f"{predicate.field} is null, so {op.value} does not hold"
    if op in (Operator.IN, Operator.NOT_IN):
        option = matched_option(predicate, value)
        if option is not None:
            return f"{seen} matched {render_value(option)}{case}"
        return f"{seen} matched none of {render_value(predicate.value)}{case}"
    verdict = "" if held else "not: "
    if op is Operator.EQUALS:
        return f"{verdict}{seen} equals {render_value(predicate.value)}{case}"
    if op is Operator.NOT_EQUALS:
        return f"{verdict}{seen} differs from {render_value(predicate.value)}{case}"
    if op is Operator.MATCHES:
        return f"{verdict}{seen} matches regex {render_value(predicate.value)}{case}"
    if op is Operator.BETWEEN:
        low, high = predicate.bounds
        return f"{verdict}{seen} is between {render_value(low)} and {render_value(high)}"
    return f"{verdict}{seen} {_SYMBOLS[op]} {render_value(predicate.value)}"


def explain(condition: Condition, record: Mapping[str, Any], held: bool = True) -> str:
    """Say which conditions held (or failed, under ``not``) with the values seen."""
    if isinstance(condition, Always):
        return "condition: true (default route)"
    if isinstance(condition, Predicate):
        return _explain_predicate(condition, record, held)
    if isinstance(condition, NotOf):
        return f"not ({explain(condition.child, record, not held)})"
    if isinstance(condition, AllOf) == held:
        # all that held / any that failed: every child contributes
        parts = [explain(child, record, held) for child in condition.children]
    else:
        # any that held / all that failed: the deciding children only
        parts = [
            explain(child, record, held)
            for child in condition.children
            if holds(child, record) == held
        ]
    return (" and " if held == isinstance(condition, AllOf) else " or ").join(parts)


def evaluate_policy(rule_set: RuleSet, record: Mapping[str, Any]) -> Decision:
    """Route one policy: the first rule (lowest priority number) whose condition holds.

    Args:
        rule_set: A validated rule set (see ``load_rule_set``).
        record: The policy as a flat mapping of canonical dotted paths (plus derived fields),
            or as nested mappings.

    Returns:
        The target, the rule that fired and an explanation with the values seen; target and
        rule are None when no rule matched.
    """
    for rule in rule_set.rules:
        if holds(rule.condition, record):
            return Decision(
                target=rule.target,
                rule=rule.name,
                explanation=(
                    f"rule {rule.name!r} (priority {rule.priority}) -> {rule.target}: "
                    f"{explain(rule.condition, record)}"
                ),
            )
    tried = "; ".join(f"{r.name}: {render_condition(r.condition)}" for r in rule_set.rules)
    return Decision(None, None, f"no rule matched (tried {tried}); add a `condition: true` rule")
