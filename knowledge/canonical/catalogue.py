"""The field catalogue: every leaf of a canonical model version, derived from the model itself.

The matcher, routing rules and the UI read this instead of the pydantic classes, so there is one
source of truth for paths, types, descriptions and which fields are mandatory.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo

from knowledge.canonical.registry import get_model

LeafType = Literal["string", "date", "decimal", "integer", "boolean"]


class CanonicalField(BaseModel):
    """One leaf field of a canonical model version."""

    model_config = ConfigDict(frozen=True)

    path: str
    """Dotted path; list items written `coverage_sections[].limits.per_occurrence`."""
    type: LeafType
    """Value type of the leaf."""
    mandatory: bool
    """True when every valid record must carry a value here (the field and all its parents)."""
    required: bool
    """True when the field must be present whenever its enclosing object or list item is."""
    description: str
    """What the field holds, with the names legacy systems use for it."""
    context: str
    """Descriptions of the enclosing objects, outermost first, for matchers that want context."""
    list_path: str | None = None
    """Path of the enclosing list component (`coverage_sections`), None outside lists."""
    allowed_values: tuple[str, ...] | None = None
    """The closed set of values for enum-like fields."""
    decimal_places: int | None = None
    """Scale of decimal fields."""

    @property
    def relative_path(self) -> str:
        """Path inside the list item (`limits.per_occurrence`), or the full path outside lists."""
        if self.list_path is None:
            return self.path
        return self.path[len(self.list_path) + 3 :]

    @property
    def component(self) -> str:
        """The top-level component the field belongs to (`policy_core`, `coverage_sections`)."""
        return self.path.split(".", 1)[0].removesuffix("[]")


@dataclass(frozen=True)
class Shape:
    """What a field annotation means once Optional, Annotated and tuple are peeled off."""

    base: Any
    is_list: bool
    metadata: tuple[Any, ...]


def peel(annotation: Any) -> Shape:
    """Peel Optional, Annotated and tuple/list off a canonical field annotation (a union other
    than ``X | None`` raises)."""
    is_list = False
    metadata: list[Any] = []
    current = annotation
    while True:
        origin = typing.get_origin(current)
        if origin is Annotated:
            current, *extra = typing.get_args(current)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(current) if a is not type(None)]
            if len(members) != 1:
                raise TypeError(f"canonical fields allow only X | None unions, got {current}")
            current = members[0]
        elif origin in (tuple, list) and not is_list:
            args = typing.get_args(current)
            current = args[0]
            is_list = True
        else:
            return Shape(current, is_list, tuple(metadata))


def _leaf_type(
    shape: Shape, info: FieldInfo
) -> tuple[LeafType, tuple[str, ...] | None, int | None]:
    base = shape.base
    if typing.get_origin(base) is Literal:
        return "string", tuple(str(v) for v in typing.get_args(base)), None
    if base is str:
        return "string", None, None
    if base is dt.date:
        return "date", None, None
    if base is bool:
        return "boolean", None, None
    if base is int:
        return "integer", None, None
    if base is Decimal:
        places = None
        for item in (*shape.metadata, *info.metadata):
            places = getattr(item, "decimal_places", None) or places
            # pydantic keeps Field() constraints of an Annotated alias on a nested FieldInfo
            for inner in getattr(item, "metadata", ()):
                places = getattr(inner, "decimal_places", None) or places
        return "decimal", None, places
    raise TypeError(f"unsupported canonical leaf type {base!r}")


def _first_sentence(text: str | None) -> str:
    return (text or "").split(". ", 1)[0].rstrip(".")


def walk_model(model: type[BaseModel]) -> list[CanonicalField]:
    """Catalogue every leaf of `model`, depth first in declaration order.

    Args:
        model: a canonical root model class.

    Returns:
        One entry per scalar leaf; list components contribute their item leaves.
    """
    out: list[CanonicalField] = []
    _walk(model, prefix="", list_path=None, all_required=True, context=(), out=out)
    return out


def _walk(
    model: type[BaseModel],
    *,
    prefix: str,
    list_path: str | None,
    all_required: bool,
    context: tuple[str, ...],
    out: list[CanonicalField],
) -> None:
    for name, info in model.model_fields.items():
        shape = peel(info.annotation)
        path = f"{prefix}{name}"
        required = info.is_required()
        if isinstance(shape.base, type) and issubclass(shape.base, BaseModel):
            if shape.is_list and list_path is not None:
                raise TypeError(f"{path}: lists inside list items are not supported in Arrow form")
            child_list = path if shape.is_list else list_path
            child_prefix = f"{path}[]." if shape.is_list else f"{path}."
            _walk(
                shape.base,
                prefix=child_prefix,
                list_path=child_list,
                all_required=all_required and required and not shape.is_list,
                context=(*context, _first_sentence(info.description) or name),
                out=out,
            )
            continue
        if shape.is_list:
            raise TypeError(f"{path}: lists of scalars are not used in canonical models")
        kind, allowed, places = _leaf_type(shape, info)
        out.append(
            CanonicalField(
                path=path,
                type=kind,
                mandatory=all_required and required and list_path is None,
                required=required,
                description=info.description or "",
                context=" > ".join(context),
                list_path=list_path,
                allowed_values=allowed,
                decimal_places=places,
            )
        )


@lru_cache(maxsize=16)
def _fields(version: str) -> tuple[CanonicalField, ...]:
    return tuple(walk_model(get_model(version)))


def fields(version: str = "policy_v1") -> list[CanonicalField]:
    """List every leaf field of a canonical model version.

    Args:
        version: a registered version name such as `policy_v1`.

    Returns:
        The catalogue in declaration order.

    Raises:
        NotFoundError: the version is not registered.
    """
    return list(_fields(version))


def mandatory_paths(version: str = "policy_v1") -> list[str]:
    """Paths every valid record of `version` must fill (e.g. `policy_core.policy_id`).

    Args:
        version: a registered version name.

    Returns:
        Dotted paths of the mandatory leaves.
    """
    return [f.path for f in _fields(version) if f.mandatory]


def field_by_path(path: str, version: str = "policy_v1") -> CanonicalField | None:
    """The catalogue entry for a dotted path (list items as `x[].y`), or None if there is none."""
    return next((f for f in _fields(version) if f.path == path), None)
