"""Per-record validation that reports every field error with its dotted path.

This is the careful path (one record at a time, every error listed) used by validate-mapping
reports, the UI and tests; the bulk path that streams batches is built elsewhere on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import InputError
from knowledge.canonical.registry import get_model

_INDEX = re.compile(r"\[\d+\]")


class FieldError(BaseModel):
    """One problem with one field of one record."""

    model_config = ConfigDict(frozen=True)

    path: str
    """Where, with list positions: `coverage_sections[1].limits.aggregate`."""
    field: str
    """The catalogue path of that field: `coverage_sections[].limits.aggregate`."""
    message: str
    """What is wrong, in words a migration engineer can act on."""
    kind: str
    """Machine-readable error type (`missing`, `literal_error`, `date_order`, ...)."""


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _errors(exc: ValidationError) -> list[FieldError]:
    found: list[FieldError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        # Cross-field checks raise at the model level; their ctx names the field to blame.
        if "field" in ctx and isinstance(ctx["field"], str):
            loc = (*loc, ctx["field"])
        path = _dotted(loc) or "<record>"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field; the canonical model has no such field (check the mapping)"
        found.append(
            FieldError(path=path, field=_INDEX.sub("[]", path), message=message, kind=err["type"])
        )
    return found


def validation_errors(record: Mapping[str, Any], version: str = "policy_v1") -> list[FieldError]:
    """Validate one record dict and list every field error (empty when the record is valid).

    Cross-field checks (period order, aggregate vs occurrence) run for an object once its own
    fields are valid, so a record with a bad date may reveal an ordering error only after the fix.

    Args:
        record: a nested dict shaped like the canonical model.
        version: a registered version name.

    Returns:
        One FieldError per problem, in model order.
    """
    try:
        get_model(version).model_validate(record)
    except ValidationError as exc:
        return _errors(exc)
    return []


def validate_record(record: Mapping[str, Any], version: str = "policy_v1") -> BaseModel:
    """Validate one record and return the frozen model.

    Raises:
        InputError: listing every field error with its path.
    """
    try:
        return get_model(version).model_validate(record)
    except ValidationError as exc:
        errors = _errors(exc)
        policy = record.get("policy_core", {}) if isinstance(record, Mapping) else {}
        policy_id = policy.get("policy_id") if isinstance(policy, Mapping) else None
        detail = "; ".join(f"{e.path}: {e.message}" for e in errors)
        raise InputError(
            f"{len(errors)} invalid field(s): {detail}",
            where=f"canonical {version} record" + (f" (policy {policy_id})" if policy_id else ""),
            fix="correct the source values or the mapping for the fields named",
        ) from None
