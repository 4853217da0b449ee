"""Plugins are Python entry points; built-ins register the same way (ARCHITECTURE section 3).

One loader for every group (``data_mash.readers``, ``data_mash.targets``, ``data_mash.gates``):
the installed entry points are the source of truth, and a built-in fallback map keeps a source
checkout usable before the package is (re)installed. An installed entry point of the same name
wins over the fallback. A plugin that fails to import is reported as the user's problem to fix
(reinstall it), never as a crash of data-mash.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points

from core.errors import InputError


def plugin_names(group: str, builtins: Mapping[str, str]) -> list[str]:
    """Every name available in ``group``: installed entry points plus built-in fallbacks."""
    return sorted({ep.name for ep in entry_points(group=group)} | set(builtins))


def _import(spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def load_plugin(
    group: str,
    name: str,
    builtins: Mapping[str, str],
    *,
    kind: str,
    where: str,
    valid: Callable[[object], bool],
    shape: str,
) -> object:
    """The object registered as ``name`` in ``group``.

    Args:
        group: entry-point group.
        name: the plugin's name (case and surrounding spaces ignored).
        builtins: name -> ``module:attribute`` of the built-ins.
        kind: what a plugin is, for messages ("format", "migration target").
        where: the setting or argument the name came from, for messages.
        valid: whether the loaded object is usable.
        shape: what a usable object must be, for the message when it is not.

    Raises:
        InputError: unknown name (the known ones are listed), a plugin that fails to import,
            or one of the wrong shape.
    """
    key = (name or "").strip().lower()
    installed = {ep.name: ep for ep in entry_points(group=group)}
    try:
        if key in installed:
            obj = installed[key].load()
        elif key in builtins:
            obj = _import(builtins[key])
        else:
            raise InputError(
                f"unknown {kind} {name!r}",
                where=where,
                fix=f"use one of: {', '.join(plugin_names(group, builtins))}",
            )
    except InputError:
        raise
    except Exception as exc:  # a broken plugin must not look like a bug in data-mash
        raise InputError(
            f"the {kind} {key!r} failed to load: {exc}",
            where=f"entry point {group}:{key}",
            fix="reinstall the plugin that provides it",
        ) from None
    if not valid(obj):
        raise InputError(
            f"the {kind} registered as {key!r} is not {shape}",
            where=f"entry point {group}:{key}",
            fix="fix the plugin",
        )
    return obj
