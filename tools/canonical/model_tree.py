"""The canonical model as a tree of objects and constrained leaves, read from the pydantic classes.

The bulk validator (`fastcheck`) and the candidate builder (`build`) work from this tree, so every
check they make is derived from the model itself: types, required fields, allowed values, string
lengths and patterns, decimal digits and places, bounds, and the cross-field model validators.
Anything in a model that this module does not understand raises at build time instead of being
skipped, so the fast path can never be silently laxer than per-record pydantic validation.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel

from knowledge.canonical.catalogue import peel
from knowledge.canonical.registry import get_model

LeafKind = Literal["string", "date", "decimal"]
_CONSTRAINTS = (
    "min_length",
    "max_length",
    "pattern",
    "ge",
    "gt",
    "le",
    "lt",
    "max_digits",
    "decimal_places",
)
_IGNORED_METADATA = ("strict",)

# Cross-field model validators the bulk path re-implements: name -> (kind, first field, second
# field). A validator not listed here makes `model_tree` raise, so a new one cannot be missed.
CROSS_FIELD_CHECKS: dict[str, tuple[str, str, str]] = {
    "_term_in_order": ("date_order", "effective_date", "expiration_date"),
    "_period_in_order": ("date_order", "effective_date", "expiration_date"),
    "_aggregate_not_below_occurrence": ("limit_order", "per_occurrence", "aggregate"),
}


@dataclass(frozen=True)
class Leaf:
    """A scalar field with the constraints pydantic applies to it."""

    path: str  # catalogue path: coverage_sections[].limits.aggregate
    name: str  # column name: full path outside lists, relative path inside a list item
    kind: LeafKind
    required: bool
    allowed: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None
    lt: Decimal | None = None
    max_digits: int | None = None
    decimal_places: int | None = None


@dataclass
class ObjectNode:
    """A nested model: the root, an object field, or the item model of a list component."""

    path: str  # "" for the root, "policy_core.insured_party", "coverage_sections[]"
    model: type[BaseModel]
    required: bool  # False when the field is optional (the object may be absent)
    list_path: str | None  # the list component this object lives in (its items or below)
    leaves: list[Leaf] = field(default_factory=list)
    children: list[ObjectNode] = field(default_factory=list)
    checks: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def is_list_item(self) -> bool:
        return self.path.endswith("[]")

    def all_leaves(self) -> list[Leaf]:
        """Leaves of this object and every object below it."""
        out = list(self.leaves)
        for child in self.children:
            out.extend(child.all_leaves())
        return out

    def walk(self) -> list[ObjectNode]:
        """This node and all below it, parents first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def _constraints(items: list[Any], where: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        nested = getattr(item, "metadata", None)
        if isinstance(nested, list):  # a FieldInfo inside an Annotated alias
            found.update(_constraints(nested, where))
        known = False
        for name in _CONSTRAINTS:
            value = getattr(item, name, None)
            if value is not None:
                found[name], known = value, True
        if not known and nested is None and not any(hasattr(item, n) for n in _IGNORED_METADATA):
            if callable(getattr(item, "func", None)):
                continue  # BeforeValidator of IsoDate: rejects numbers; candidates hold dates
            raise TypeError(f"{where}: constraint {item!r} is not implemented by the bulk checks")
    return found


def _leaf(path: str, name: str, annotation: Any, info: Any) -> Leaf:
    shape = peel(annotation)
    base = shape.base
    constraints = _constraints([*shape.metadata, *info.metadata], path)
    allowed = None
    if typing.get_origin(base) is Literal:
        kind: LeafKind = "string"
        allowed = tuple(str(v) for v in typing.get_args(base))
    elif base is str:
        kind = "string"
    elif base is dt.date:
        kind = "date"
    elif base is Decimal:
        kind = "decimal"
    else:
        raise TypeError(f"{path}: leaf type {base!r} is not supported by the bulk checks")
    for bound in ("ge", "gt", "le", "lt"):
        if bound in constraints:
            constraints[bound] = Decimal(str(constraints[bound]))
    return Leaf(
        path=path, name=name, kind=kind, required=info.is_required(), allowed=allowed, **constraints
    )


def _node(model: type[BaseModel], path: str, required: bool, list_path: str | None) -> ObjectNode:
    node = ObjectNode(path=path, model=model, required=required, list_path=list_path)
    for name in model.__pydantic_decorators__.model_validators:
        if name not in CROSS_FIELD_CHECKS:
            raise TypeError(f"{model.__name__}.{name}: model validator unknown to the bulk checks")
        node.checks.append(CROSS_FIELD_CHECKS[name])
    if model.__pydantic_decorators__.field_validators:
        raise TypeError(f"{model.__name__}: field validators are not supported by the bulk checks")
    prefix = f"{path}." if path else ""
    for name, info in model.model_fields.items():
        child_path = f"{prefix}{name}"
        shape = peel(info.annotation)
        base, is_list = shape.base, shape.is_list
        if isinstance(base, type) and issubclass(base, BaseModel):
            item_list = child_path if is_list else list_path
            node.children.append(
                _node(
                    base,
                    f"{child_path}[]" if is_list else child_path,
                    info.is_required() and not is_list,
                    item_list,
                )
            )
            continue
        column = child_path
        if list_path is not None:
            column = child_path[len(list_path) + 3 :]
        node.leaves.append(_leaf(child_path, column, info.annotation, info))
    return node


@lru_cache(maxsize=8)
def model_tree(version: str = "policy_v1") -> ObjectNode:
    """The object tree of a canonical version (root first).

    Raises:
        TypeError: the model uses a constraint or validator the bulk checks do not implement.
    """
    return _node(get_model(version), "", True, None)


def list_components(version: str = "policy_v1") -> list[ObjectNode]:
    """The item nodes of every list component (`coverage_sections[]`, ...)."""
    return [n for n in model_tree(version).walk() if n.is_list_item]


def leaves_by_path(version: str = "policy_v1") -> dict[str, Leaf]:
    """Every leaf of a version by its catalogue path."""
    return {leaf.path: leaf for leaf in model_tree(version).all_leaves()}
