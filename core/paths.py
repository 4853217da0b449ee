"""Confining file paths that arrive from outside (MCP clients) to allowed roots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import InputError


def allowed_roots(configured: Sequence[Path], workspace: Path) -> list[Path]:
    """The folders the user named (``DATA_MASH_ALLOWED_ROOTS``), then the workspace.

    Relative paths resolve against the first of them (see :func:`confine`).

    Never the current directory implicitly (a server started from ``/`` would otherwise serve
    every file on the machine), and never the filesystem root even when named.
    """
    roots: list[Path] = []
    for root in [*configured, workspace]:
        resolved = root.expanduser().resolve()
        if resolved == Path(resolved.anchor):
            raise InputError(
                f"'{root}' is the filesystem root and cannot be an allowed root",
                where="DATA_MASH_ALLOWED_ROOTS",
                fix="name the folders that hold the legacy files",
            )
        if resolved not in roots:
            roots.append(resolved)
    return roots


def confine(path: str | Path, roots: Sequence[Path]) -> Path:
    """Resolve ``path`` (relative paths against the first root) and refuse it outside ``roots``.

    Symlinks are resolved first, so a link inside a root pointing outside it is refused too.
    """
    raw = Path(path).expanduser()
    if not roots:
        raise InputError(
            "no allowed roots are configured",
            where="DATA_MASH_ALLOWED_ROOTS",
            fix="set DATA_MASH_ALLOWED_ROOTS to the folders holding legacy files",
        )
    candidate = (raw if raw.is_absolute() else roots[0] / raw).resolve()
    for root in roots:
        if candidate == root or candidate.is_relative_to(root):
            return candidate
    shown = ", ".join(str(r) for r in roots)
    raise InputError(
        f"'{path}' is outside the allowed roots ({shown})",
        where="path",
        fix="move the file under an allowed root or add its folder to DATA_MASH_ALLOWED_ROOTS",
    )
