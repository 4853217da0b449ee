"""Find the migration target class for a name, and build configured targets.

The entry-point group ``data_mash.targets`` is the source of truth: built-ins and plugins register
there (pyproject.toml). A built-in fallback map keeps a source checkout usable before the package
is (re)installed; an installed entry point of the same name always wins over it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tools.errors import InputError
from tools.waves.targets.base import MigrationTarget

GROUP = "data_mash.targets"

BUILTIN_TARGETS: dict[str, str] = {
    "new_platform": "tools.waves.targets.new_platform:NewPlatformTarget",
    "legacy_batch": "tools.waves.targets.legacy_batch:LegacyBatchTarget",
    "coexistence_bridge": "tools.waves.targets.bridge:CoexistenceBridgeTarget",
    "data_quality_queue": "tools.waves.targets.dq_queue:DataQualityQueueTarget",
}
_REQUIRED = ("health", "write", "delete", "read_back", "count")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def known_targets() -> list[str]:
    """All target names available: installed entry points plus the built-in fallbacks."""
    return sorted(set(_entry_points()) | set(BUILTIN_TARGETS))


def _load(spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def target_for(name: str) -> type[MigrationTarget]:
    """Return the target class registered for ``name``.

    Args:
        name: An entry-point name in ``data_mash.targets`` (``new_platform``, ``legacy_batch``...).

    Returns:
        The target class (instantiate it with its config mapping).

    Raises:
        InputError: No target is registered under that name, or the plugin fails to import.
    """
    key = (name or "").strip().lower()
    eps = _entry_points()
    try:
        if key in eps:
            cls = eps[key].load()
        elif key in BUILTIN_TARGETS:
            cls = _load(BUILTIN_TARGETS[key])
        else:
            raise InputError(f"unknown migration target {name!r}", where="target",
                             fix=f"use one of: {', '.join(known_targets())}")
    except InputError:
        raise
    except Exception as exc:  # a broken plugin must not look like a bug in data-mash
        raise InputError(f"the target {key!r} failed to load: {exc}",
                         where=f"entry point {GROUP}:{key}",
                         fix="reinstall the plugin that provides it") from None
    if not isinstance(cls, type) or not all(callable(getattr(cls, m, None)) for m in _REQUIRED):
        raise InputError(f"the target registered for {key!r} is not a MigrationTarget class",
                         where=f"entry point {GROUP}:{key}",
                         fix=f"the class needs {', '.join(_REQUIRED)}")
    return cls  # type: ignore[return-value]


def make_target(name: str, config: Mapping[str, Any] | None = None) -> MigrationTarget:
    """Instantiate the target ``name`` with ``config`` (validated by the target's constructor).

    Raises:
        InputError: unknown target or bad config.
    """
    if config is not None and not isinstance(config, Mapping):
        raise InputError("the target config must be a mapping", where=f"target {name}",
                         fix="pass settings as key: value pairs")
    return target_for(name)(dict(config or {}))
