"""A deliberately simple reference router, written apart from tools/routing, to check it against.

It reads the rule YAML itself and evaluates each policy (a dict of canonical dotted paths plus
derived fields) rule by rule in priority order: the first rule whose condition holds wins.
Semantics, as documented in knowledge/rules/example_rules.yaml and docs/routing.md: a field may
be named by its full dotted path or by a unique suffix (``payment_plan``); a null value makes
every comparison false (``is_null`` / ``not_null`` aside); ``in`` options may use ``*`` wildcards;
``between`` is inclusive; ``matches`` is a regular-expression search; ``ignore_case`` folds case.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class ReferenceRouter:
    """Routes dict records by the rules of one YAML file."""

    def __init__(self, rules_file: Path, fields: list[str]) -> None:
        doc = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["routing_rules"]
        self.rules = sorted(doc["rules"], key=lambda r: r["priority"])
        self.fields = fields

    def resolve(self, name: str) -> str:
        """The record key a rule's field names (exact, else the unique dotted suffix)."""
        if name in self.fields:
            return name
        hits = [f for f in self.fields if f.endswith("." + name)]
        return hits[0] if len(hits) == 1 else name

    def route(self, record: dict[str, Any]) -> tuple[str | None, str | None]:
        """(target, rule name) of the first rule that holds."""
        for rule in self.rules:
            if self.holds(rule["condition"], record):
                return rule["target"], rule["name"]
        return None, None

    def holds(self, cond: Any, record: dict[str, Any]) -> bool:
        """Evaluate one condition tree."""
        if cond is True:
            return True
        if "all" in cond:
            return all(self.holds(c, record) for c in cond["all"])
        if "any" in cond:
            return any(self.holds(c, record) for c in cond["any"])
        if "not" in cond:
            return not self.holds(cond["not"], record)
        value = record.get(self.resolve(cond["field"]))
        op, want = cond["operator"], cond.get("value")
        if op == "is_null":
            return value is None
        if op == "not_null":
            return value is not None
        if value is None:
            return False
        fold = bool(cond.get("ignore_case"))
        return _compare(op, value, want, fold)


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _text(value: Any, fold: bool) -> str:
    text = str(value)
    return text.lower() if fold else text


def _compare(op: str, value: Any, want: Any, fold: bool) -> bool:
    value = _norm(value)
    if op in ("equals", "not_equals"):
        same = (
            (_text(value, fold) == _text(want, fold))
            if isinstance(value, str)
            else (value == _norm(want))
        )
        return same if op == "equals" else not same
    if op in ("in", "not_in"):
        hit = any(
            fnmatch.fnmatchcase(_text(value, fold), _text(option, fold))
            if isinstance(option, str)
            else value == option
            for option in want
        )
        return hit if op == "in" else not hit
    if op == "matches":
        return re.search(want, str(value), re.IGNORECASE if fold else 0) is not None
    if op == "between":
        return _norm(want[0]) <= value <= _norm(want[1])
    limit = _norm(want)
    return {
        "less_than": value < limit,
        "less_or_equal": value <= limit,
        "greater_than": value > limit,
        "greater_or_equal": value >= limit,
    }[op]
