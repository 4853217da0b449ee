"""Registry of canonical model versions: register, list, fetch, export JSON Schema.

The built-in versions register themselves when this module is imported; plugins may register
more with `register_model`. A version, once registered, is never replaced (models are frozen API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from core.errors import InputError, NotFoundError
from knowledge.canonical.policy_v1 import CanonicalPolicyV1
from knowledge.canonical.policy_v2 import CanonicalPolicyV2

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class ModelVersion:
    """A registered canonical model version."""

    version: str
    model: type[BaseModel]
    schema_id: str
    title: str


_VERSIONS: dict[str, ModelVersion] = {}


def register_model(version: str, model: type[BaseModel], *, schema_id: str, title: str) -> None:
    """Register a canonical model version.

    Args:
        version: the version name used everywhere (`policy_v1`).
        model: the root pydantic model class.
        schema_id: the JSON Schema `$id` (`canonical://policy/v1`).
        title: a human title for listings.

    Raises:
        InputError: the version name is already taken by a different model.
    """
    existing = _VERSIONS.get(version)
    if existing is not None and existing.model is not model:
        raise InputError(
            f"canonical model version {version!r} is already registered",
            where="knowledge.canonical.registry",
            fix="released versions are frozen; register the new model under a new version name",
        )
    _VERSIONS[version] = ModelVersion(version, model, schema_id, title)


def list_versions() -> list[ModelVersion]:
    """All registered versions, in registration order."""
    return list(_VERSIONS.values())


def get_version(version: str) -> ModelVersion:
    """The registration record of `version`.

    Raises:
        NotFoundError: no such version.
    """
    try:
        return _VERSIONS[version]
    except KeyError:
        known = ", ".join(_VERSIONS) or "none"
        raise NotFoundError(
            f"unknown canonical model version {version!r}",
            where="--canonical",
            fix=f"use one of: {known}",
        ) from None


def get_model(version: str) -> type[BaseModel]:
    """The root model class of `version` (e.g. `get_model("policy_v1")`).

    Raises:
        NotFoundError: no such version.
    """
    return get_version(version).model


def json_schema(version: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of `version`, with its `$id` (`canonical://policy/v1`).

    Raises:
        NotFoundError: no such version.
    """
    entry = get_version(version)
    schema = entry.model.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": entry.schema_id,
        "title": entry.title,
        "x-canonical-version": entry.version,
        **{k: v for k, v in schema.items() if k != "title"},
    }


register_model(
    "policy_v1",
    CanonicalPolicyV1,
    schema_id="canonical://policy/v1",
    title="Canonical insurance policy, version 1",
)
register_model(
    "policy_v2",
    CanonicalPolicyV2,
    schema_id="canonical://policy/v2",
    title="Canonical insurance policy, version 2",
)
