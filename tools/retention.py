"""Retention for ``data-mash gc``: finished waves' run state, abandoned leftovers, dead leases.

Three sweeps, each for one tenant, each previewed by a dry run and audited before it acts:

* **wave run state** (:func:`tools.waves.gc`): checkpoints, gate results and membership of
  waves finished before ``retention_wave_state_seconds`` go to a gzip JSONL archive;
* **leftovers**: staging folders of ingests that died (``.src_*.partial-*``), half-written files
  (``*.partial``, ``.*.tmp``, ``.*.tmp-*``) under the tenant's folders of the workspace, untouched
  for ``retention_partial_seconds``. A staging folder whose ingest lock is held, or anything
  written to more recently than the cut-off, is in use and kept;
* **dead leases**: lease rows of processes that are provably gone (pid not running on this host,
  or no heartbeat within the lease's TTL) and silent for ``retention_job_seconds``.

The audit log is never touched: it is the history, and undo reads its batches from it.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import Field

from core.file_lock import is_locked
from core.ids import tenant_path
from core.logs import get_logger
from core.store.leases import dead_leases, drop_dead_lease
from tools.audit import AuditLog
from tools.content.ingest import ingest_lock_path
from tools.waves import GcResult, WaveContext
from tools.waves import gc as gc_waves

NAMESPACE = "retention"
#: Half-written names the workspace's writers use: staging ``.src_x.partial-1a2b3c4d``,
#: ``x.partial`` (archives, milestone files), ``.x.1a2b.tmp`` (canonical output, exports),
#: ``.x.tmp-1a2b`` (file targets).
_LEFTOVER = re.compile(r"\.partial-[0-9a-f]+$|\.partial$|^\..+\.tmp$|^\..+\.tmp-[0-9a-f]+$")
_STAGING = re.compile(r"^\.(src_[A-Za-z0-9_-]+)\.partial-[0-9a-f]+$")
#: Areas of the workspace holding no leftovers of their own (lock files must stay).
_SKIPPED_AREAS = {"locks"}
_log = get_logger(__name__)


class RetentionResult(GcResult):
    """What ``gc`` archived (waves), removed (leftovers, dead leases), or would."""

    partials: list[str] = Field(default_factory=list, description="Leftovers removed.")
    partial_bytes: int = Field(0, description="Their size on disk.")
    kept_in_use: list[str] = Field(
        default_factory=list,
        description="Leftover-looking entries kept: written to recently or held by a live process.",
    )
    leases: list[str] = Field(default_factory=list, description="Dead leases removed.")
    partial_cutoff: datetime
    lease_cutoff: datetime


def _newest_mtime(path: Path) -> tuple[float, int]:
    """The newest modification time in ``path`` (a file or a tree) and the bytes it holds."""
    stat = path.lstat()
    newest, size = stat.st_mtime, stat.st_size
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    entry = os.lstat(os.path.join(folder, name))
                except FileNotFoundError:
                    continue
                newest = max(newest, entry.st_mtime)
                size += entry.st_size
    return newest, size


def _in_use(context: WaveContext, path: Path) -> bool:
    """A staging folder whose ingest still holds its source's lock is being written."""
    staging = _STAGING.match(path.name)
    if staging is None:
        return False
    lock = ingest_lock_path(context.settings, context.tenant, staging.group(1))
    return is_locked(lock)


def find_leftovers(context: WaveContext, *, older_than: timedelta) -> tuple[list[Path], list[Path]]:
    """Abandoned leftovers under the tenant's folders, and those kept because in use.

    Returns:
        (stale, kept): ``stale`` are older than ``older_than`` with no live writer.
    """
    home = context.settings.home
    cutoff = (datetime.now(UTC) - older_than).timestamp()
    stale: list[Path] = []
    kept: list[Path] = []
    if not home.is_dir():
        return stale, kept
    for area in sorted(p for p in home.iterdir() if p.is_dir() and p.name not in _SKIPPED_AREAS):
        root = tenant_path(area, context.tenant)
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            for name in sorted(dirs + files):
                if not _LEFTOVER.search(name):
                    continue
                path = Path(folder) / name
                try:
                    newest, _size = _newest_mtime(path)
                except FileNotFoundError:
                    continue  # its writer finished or removed it meanwhile
                if newest > cutoff or _in_use(context, path):
                    kept.append(path)
                else:
                    stale.append(path)
            dirs[:] = [d for d in dirs if not _LEFTOVER.search(d)]  # never descend into one
    return stale, kept


def _remove(path: Path) -> int:
    try:
        _newest, size = _newest_mtime(path)
    except FileNotFoundError:
        return 0
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return size


def collect(
    context: WaveContext,
    *,
    older_than: timedelta | None = None,
    partials_older_than: timedelta | None = None,
    leases_older_than: timedelta | None = None,
    dry_run: bool = False,
) -> RetentionResult:
    """Run the three retention sweeps for the context's tenant (ages default to Settings).

    With ``dry_run`` nothing changes and the result names what would go. Otherwise each sweep is
    one audit entry whose intent (what will be removed) is written before anything is removed.
    """
    settings = context.settings

    def age(given: timedelta | None, seconds: float) -> timedelta:
        return timedelta(seconds=seconds) if given is None else given

    wave_age = age(older_than, settings.retention_wave_state_seconds)
    partial_age = age(partials_older_than, settings.retention_partial_seconds)
    lease_age = age(leases_older_than, settings.retention_job_seconds)
    now = datetime.now(UTC)
    waves = gc_waves(context, older_than=wave_age, dry_run=dry_run)

    stale, kept = find_leftovers(context, older_than=partial_age)
    shown = [str(p) for p in stale]
    removed_bytes = 0
    log = AuditLog(context.engine, tenant=context.tenant)
    if stale and not dry_run:
        with log.operation(
            NAMESPACE,
            "gc_leftovers",
            payload={
                "cutoff": (now - partial_age).isoformat(),
                "paths": shown[:200],
                "count": len(shown),
            },
        ) as op:
            removed_bytes = sum(_remove(p) for p in stale)
            op.outcome = {"removed": len(stale), "bytes": removed_bytes}
    elif stale:
        removed_bytes = sum(_newest_mtime(p)[1] for p in stale if p.exists())

    dead = dead_leases(context.engine, context.tenant, idle_for=lease_age)
    names = [str(row["name"]) for row in dead]
    if dead and not dry_run:
        with log.operation(
            NAMESPACE,
            "gc_leases",
            payload={
                "leases": [
                    {k: str(row[k]) for k in ("name", "what", "pid", "host", "reason")}
                    for row in dead
                ]
            },
        ) as op:
            with op.atomic() as conn:
                names = [
                    str(row["name"])
                    for row in dead
                    if drop_dead_lease(conn, context.tenant, row["name"], row["owner"])
                ]
            op.outcome = {"removed": names}
    _log.info(
        "gc_done",
        dry_run=dry_run,
        waves=len(waves.waves),
        leftovers=len(stale),
        leftover_bytes=removed_bytes,
        kept_in_use=len(kept),
        leases=len(names),
    )
    return RetentionResult(
        **waves.model_dump(),
        partials=shown,
        partial_bytes=removed_bytes,
        kept_in_use=[str(p) for p in kept],
        leases=names,
        partial_cutoff=now - partial_age,
        lease_cutoff=now - lease_age,
    )
