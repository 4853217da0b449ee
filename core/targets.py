"""Migration target names: one canonical name per target, the spellings accepted for it.

Routing rules, plans, ``generate-plan --target``, ``reroute --to`` and the MCP tools all speak of
targets; they used to spell them two ways (``NewPlatformAPI`` in rules, ``new_platform`` in
plans). Every door now resolves a name through :func:`canonical_target`: a canonical name or any
alias of a built-in target, or the name of an installed ``data_mash.targets`` plugin. Anything
else is refused with the list. Stored names (locations, plans, audit entries) are canonical.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.metadata import entry_points

from core.errors import InputError

#: Entry-point group of migration target plugins (the built-ins register there too).
TARGET_GROUP = "data_mash.targets"


class TargetName(StrEnum):
    """The built-in migration targets (entry-point names in ``data_mash.targets``)."""

    NEW_PLATFORM = "new_platform"
    LEGACY_BATCH = "legacy_batch"
    COEXISTENCE_BRIDGE = "coexistence_bridge"
    DATA_QUALITY_QUEUE = "data_quality_queue"


#: Other spellings accepted for each built-in target (routing rules used the CamelCase ones).
TARGET_ALIASES: dict[TargetName, tuple[str, ...]] = {
    TargetName.NEW_PLATFORM: ("NewPlatformAPI", "NewPlatform"),
    TargetName.LEGACY_BATCH: ("LegacyBatch",),
    TargetName.COEXISTENCE_BRIDGE: ("CoexistenceBridge",),
    TargetName.DATA_QUALITY_QUEUE: ("DataQualityQueue", "DQQueue"),
}

#: Where policies wait for their wave during coexistence: a plan to any target takes them.
INTERIM_TARGETS = frozenset({TargetName.COEXISTENCE_BRIDGE})


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY: dict[str, str] = {
    _key(spelling): str(target)
    for target, aliases in TARGET_ALIASES.items()
    for spelling in (target.value, *aliases)
}


def plugin_targets() -> list[str]:
    """Names of installed target plugins that are not built-ins."""
    return sorted(
        {ep.name for ep in entry_points(group=TARGET_GROUP)} - {t.value for t in TargetName}
    )


def target_help() -> str:
    """The accepted names, canonical first with aliases in brackets (for --help and errors)."""
    shown = [f"{t.value} ({', '.join(TARGET_ALIASES[t])})" for t in TargetName]
    return ", ".join([*shown, *plugin_targets()])


def canonical_target(name: str, *, where: str = "target") -> str:
    """The canonical name of a migration target given any accepted spelling.

    Raises:
        InputError: no target goes by that name (the message lists the accepted names).
    """
    found = _BY_KEY.get(_key(name or ""))
    if found is not None:
        return found
    if name in plugin_targets():
        return name
    shown = name if len(name) <= 80 else name[:77] + "..."
    raise InputError(
        f"no migration target '{shown}'",
        where=where,
        fix=f"use one of: {target_help()}",
    )


def same_target(a: str | None, b: str | None) -> bool:
    """Do two target names (any spelling; unknown names compare as written) name one target?"""
    if not a or not b:
        return False
    return _BY_KEY.get(_key(a), a) == _BY_KEY.get(_key(b), b)


def headed_for(system: str | None, target: str) -> bool:
    """Does a policy now located at ``system`` belong in a wave to ``target``?

    Yes when it is routed there, not routed at all, or waiting on the coexistence bridge;
    no when it stays on a legacy system or sits in the data-quality queue.
    """
    if system is None:
        return True
    return same_target(system, target) or _BY_KEY.get(_key(system)) in INTERIM_TARGETS
