"""Value semantics shared by the interpreter, the compiler and the shadowing analysis.

Both engines must agree bit for bit, so coercion and wildcard translation live in one place.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from decimal import Decimal
from typing import Any

from tools.routing.fields import FieldKind
from tools.routing.model import Operator, Predicate

_REGEX_SPECIALS = frozenset(".^$*+?()[]{}|\\")


def has_wildcard(pattern: str) -> bool:
    """True when an in/not_in value uses ``*`` (any run) or ``?`` (one character)."""
    return "*" in pattern or "?" in pattern


def wildcard_regex(pattern: str) -> str:
    """Translate a wildcard pattern to an unanchored regex valid in Python re and RE2."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char in _REGEX_SPECIALS:
            out.append("\\" + char)
        else:
            # Escaping only the metacharacters keeps the pattern valid in RE2, which rejects
            # some escapes Python's re.escape produces (e.g. an escaped space).
            out.append(char)
    return "".join(out)


def patterns_regex(patterns: tuple[str, ...]) -> str:
    """One anchored RE2/Python regex matching any of the patterns in full (dot matches newline)."""
    return "(?s)^(?:" + "|".join(wildcard_regex(p) for p in patterns) + ")$"


@functools.lru_cache(maxsize=1024)
def compiled_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Cache compiled regexes; rules reuse a handful of them millions of times."""
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def coerce(kind: FieldKind, raw: Any) -> Any:
    """Turn a record value into the comparable form for its field kind (None when missing).

    NaN counts as missing, as in the compiled engine; unparsable numbers and dates too.
    """
    if raw is None:
        return None
    if kind is FieldKind.TEXT:
        return raw if isinstance(raw, str) else str(raw)
    if kind is FieldKind.NUMBER:
        if isinstance(raw, bool):
            return float(raw)
        try:
            number = float(raw) if isinstance(raw, int | float | Decimal | str) else None
        except ValueError:
            return None
        return None if number is None or math.isnan(number) else number
    if kind is FieldKind.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw[:10])
            except ValueError:
                return None
        return None
    if kind is FieldKind.BOOLEAN:
        return raw if isinstance(raw, bool) else None
    return list(raw) if isinstance(raw, list | tuple) else None


def _fold(value: Any, ignore_case: bool) -> Any:
    return value.lower() if ignore_case and isinstance(value, str) else value


def _in_values(predicate: Predicate, value: Any) -> str | Any | None:
    """Return the first value/pattern of an in/not_in list that ``value`` matches, else None."""
    options = predicate.options
    folded = _fold(value, predicate.ignore_case)
    for option in options:
        if isinstance(option, str) and has_wildcard(option):
            # fullmatch, not ^...$: Python's $ also matches before a final newline, RE2's not.
            regex = compiled_regex("(?s)(?:" + wildcard_regex(option) + ")", predicate.ignore_case)
            if regex.fullmatch(value):
                return option
        elif _fold(option, predicate.ignore_case) == folded:
            return option
    return None


def matched_option(predicate: Predicate, value: Any) -> Any:
    """For explanations: which in/not_in option a value matched (None when none)."""
    return None if value is None else _in_values(predicate, value)


def test_predicate(predicate: Predicate, value: Any) -> bool:
    """Evaluate one predicate on an already coerced value (see :func:`coerce`)."""
    op = predicate.operator
    if op is Operator.IS_NULL:
        return value is None or (predicate.kind is FieldKind.LIST and len(value) == 0)
    if op is Operator.NOT_NULL:
        return value is not None and not (predicate.kind is FieldKind.LIST and len(value) == 0)
    if value is None:
        return False
    target = predicate.value
    if op is Operator.EQUALS:
        return bool(_fold(value, predicate.ignore_case) == _fold(target, predicate.ignore_case))
    if op is Operator.NOT_EQUALS:
        return bool(_fold(value, predicate.ignore_case) != _fold(target, predicate.ignore_case))
    if op is Operator.IN:
        return _in_values(predicate, value) is not None
    if op is Operator.NOT_IN:
        return _in_values(predicate, value) is None
    if op is Operator.MATCHES:
        regex = compiled_regex(str(target), predicate.ignore_case)
        return regex.search(value) is not None
    if op is Operator.BETWEEN:
        low, high = predicate.bounds
        return bool(low <= value <= high)
    if op is Operator.LESS_THAN:
        return bool(value < target)
    if op is Operator.LESS_OR_EQUAL:
        return bool(value <= target)
    if op is Operator.GREATER_THAN:
        return bool(value > target)
    return bool(value >= target)
