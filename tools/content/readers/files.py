"""File checks every reader makes before opening a source file."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError


def check_file(path: Path, *, allow_empty: bool = False) -> Path:
    """Raise InputError unless ``path`` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "file not found",
            where=str(path),
            fix="check the path (relative paths in a source config are relative to the YAML file)",
        )
    if not path.is_file():
        raise InputError("is not a regular file", where=str(path), fix="point at a file")
    if not allow_empty and path.stat().st_size == 0:
        raise InputError("file is empty", where=str(path), fix="re-export the source or drop it")
    return path
