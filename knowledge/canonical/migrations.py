"""Moving canonical records between model versions.

Each step upgrades a record by exactly one version; `migrate_record` chains steps. Steps work on
plain dicts (the shape of `model_dump()` and of `arrow_to_records`) and never guess values: a field
new in the target version is left empty for the mapping to fill.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from core.errors import InputError, NotFoundError

Record = dict[str, Any]
MigrationStep = Callable[[Record], Record]

_STEPS: dict[str, tuple[str, MigrationStep]] = {}


def register_migration(from_version: str, to_version: str, step: MigrationStep) -> None:
    """Register the one-version upgrade `from_version` -> `to_version`."""
    _STEPS[from_version] = (to_version, step)


def _v1_to_v2(record: Record) -> Record:
    core = record.get("policy_core")
    if isinstance(core, dict):
        # Channel was not captured in v1; leave it empty rather than infer it from agent_info.
        core.setdefault("channel", None)
    rating = record.get("rating_components")
    if isinstance(rating, dict) and "premium_amount" in rating:
        if rating.get("written_premium") is not None:
            raise InputError(
                "record has both premium_amount (v1) and written_premium (v2)",
                where="rating_components",
                fix="pass a pure v1 record to the v1 -> v2 migration",
            )
        rating["written_premium"] = rating.pop("premium_amount")
    return record


register_migration("policy_v1", "policy_v2", _v1_to_v2)


def migration_path(from_version: str, to_version: str) -> list[str]:
    """The versions a record passes through, both ends included.

    Raises:
        NotFoundError: there is no chain of upgrades between the two versions.
    """
    path = [from_version]
    while path[-1] != to_version:
        step = _STEPS.get(path[-1])
        if step is None or step[0] in path:
            raise NotFoundError(
                f"no migration from {from_version} to {to_version}",
                where="canonical version",
                fix="migrations only go forward; known upgrades: "
                + ", ".join(f"{k} -> {v[0]}" for k, v in _STEPS.items()),
            )
        path.append(step[0])
    return path


def migrate_record(
    record: Mapping[str, Any] | BaseModel,
    from_version: str = "policy_v1",
    to_version: str = "policy_v2",
) -> Record:
    """Upgrade one canonical record from one version to another.

    Args:
        record: a record dict (or model instance) valid in `from_version`.
        from_version: the record's version.
        to_version: the version wanted.

    Returns:
        A new dict shaped like `to_version`; the input is not modified.

    Raises:
        NotFoundError: no migration path between the versions.
        InputError: the record does not look like `from_version`.
    """
    versions = migration_path(from_version, to_version)
    data = record.model_dump() if isinstance(record, BaseModel) else copy.deepcopy(dict(record))
    for version in versions[:-1]:
        data = _STEPS[version][1](data)
    return data
