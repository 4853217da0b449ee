"""What the file-drop targets (legacy_batch, coexistence_bridge) share: folders and atomic writes.

A file appears whole or not at all: it is written to a hidden temporary name in the same folder,
flushed to disk, then renamed over its final name (os.replace is atomic on POSIX and Windows).
A crash leaves at most a `.tmp-*` file, which readers ignore and the next write removes.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InputError
from tools.waves.targets.base import TargetHealth

TMP_MARK = ".tmp-"


def target_dir(config: Mapping[str, Any], target: str) -> Path:
    """The `dir` setting, checked: a string naming a folder (created on first write)."""
    raw = config.get("dir") if isinstance(config, Mapping) else None
    if not isinstance(raw, str | os.PathLike) or not str(raw).strip():
        raise InputError(
            "the dir setting is missing",
            where=f"target {target}: dir",
            fix="give the folder the files are dropped into",
        )
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(
            f"{path} is a file, not a folder",
            where=f"target {target}: dir",
            fix="point dir at a folder",
        )
    return path


def ensure_dir(path: Path, target: str) -> Path:
    """Create the folder if needed.

    Raises:
        ConfigError: it cannot be created or written.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {path}: {exc.strerror}",
            where=f"target {target}: dir",
            fix="use a writable folder",
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{path} is not writable",
            where=f"target {target}: dir",
            fix="fix the folder's permissions or use another one",
        )
    return path


def folder_health(path: Path, target: str, what: str) -> TargetHealth:
    """Can ``path`` be created and written? ``what`` names it in the detail. Never raises."""
    try:
        ensure_dir(path, target)
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        return TargetHealth(ok=False, detail=str(exc))
    return TargetHealth(ok=True, detail=f"{what} {path} is writable")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform allows opening a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(folder: Path, prefix: str) -> None:
    """Delete temporary files a crashed write of this prefix left behind."""
    for leftover in folder.glob(f".{prefix}*{TMP_MARK}*"):
        leftover.unlink(missing_ok=True)


def digest(data: bytes, length: int = 16) -> str:
    """Hex sha256 prefix naming a batch by its content."""
    return hashlib.sha256(data).hexdigest()[:length]


def next_sequence(names: list[str], pattern: re.Pattern[str]) -> int:
    """One more than the highest sequence number (group `seq`) among `names`."""
    numbers = [int(m.group("seq")) for n in names if (m := pattern.match(n))]
    return max(numbers, default=0) + 1
