"""Find the migration target class for a name, and build configured targets.

The entry-point group ``data_mash.targets`` is the source of truth: built-ins and plugins register
there (pyproject.toml). A built-in fallback map keeps a source checkout usable before the package
is (re)installed; an installed entry point of the same name always wins over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import InputError
from core.plugins import load_plugin, plugin_names
from core.targets import TARGET_GROUP, TargetName, canonical_target
from tools.waves.targets.base import MigrationTarget

GROUP = TARGET_GROUP

#: Fallbacks for a source checkout, keyed by the one list of built-in names (core.targets).
BUILTIN_TARGETS: dict[str, str] = {
    TargetName.NEW_PLATFORM: "tools.waves.targets.new_platform:NewPlatformTarget",
    TargetName.LEGACY_BATCH: "tools.waves.targets.legacy_batch:LegacyBatchTarget",
    TargetName.COEXISTENCE_BRIDGE: "tools.waves.targets.bridge:CoexistenceBridgeTarget",
    TargetName.DATA_QUALITY_QUEUE: "tools.waves.targets.dq_queue:DataQualityQueueTarget",
}
_REQUIRED = ("health", "write", "delete", "read_back", "count")


def known_targets() -> list[str]:
    """All target names available: installed entry points plus the built-in fallbacks."""
    return plugin_names(GROUP, BUILTIN_TARGETS)


def target_for(name: str) -> type[MigrationTarget]:
    """Return the target class registered for ``name``.

    Args:
        name: An entry-point name in ``data_mash.targets`` (``new_platform``, ``legacy_batch``...)
            or an accepted alias (``NewPlatformAPI``...).

    Returns:
        The target class (instantiate it with its config mapping).

    Raises:
        InputError: No target is registered under that name, or the plugin fails to import.
    """
    cls = load_plugin(
        GROUP,
        canonical_target(name),
        BUILTIN_TARGETS,
        kind="migration target",
        where="target",
        valid=lambda obj: (
            isinstance(obj, type) and all(callable(getattr(obj, m, None)) for m in _REQUIRED)
        ),
        shape=f"a MigrationTarget class (needs {', '.join(_REQUIRED)})",
    )
    return cls  # type: ignore[return-value]


def make_target(name: str, config: Mapping[str, Any] | None = None) -> MigrationTarget:
    """Instantiate the target ``name`` with ``config`` (validated by the target's constructor).

    Raises:
        InputError: unknown target or bad config.
    """
    if config is not None and not isinstance(config, Mapping):
        raise InputError(
            "the target config must be a mapping",
            where=f"target {name}",
            fix="pass settings as key: value pairs",
        )
    return target_for(name)(dict(config or {}))
