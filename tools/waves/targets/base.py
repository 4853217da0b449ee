"""The contract every migration target follows (built-ins and ``data_mash.targets`` plugins).

A target receives canonical records as Arrow tables (dotted leaf-path columns such as
``policy_core.policy_id``; list components as list<struct> columns) for one wave, and must be
able to undo and read back what it wrote, because a wave is a saga: the migrate milestone is
compensated by deleting exactly what the wave wrote, and the validate milestone reconciles the
target's read-back against the canonical source.

Writes are idempotent upserts keyed by (policy_id, wave_id): writing the same batch twice (a
retry after a crash) leaves one copy of each policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel

POLICY_ID = "policy_core.policy_id"


class TargetHealth(BaseModel):
    """Result of a target's health check (the target-readiness gate reads it)."""

    ok: bool
    detail: str


@runtime_checkable
class MigrationTarget(Protocol):
    """A system policies migrate into."""

    name: ClassVar[str]  # entry-point name: new_platform, legacy_batch, ...

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Validate config (paths, URLs) and open nothing heavy yet; InputError on bad config."""

    def health(self) -> TargetHealth:
        """Can the target take writes now? Never raises: problems are reported as ok=False."""
        ...

    def write(self, wave_id: str, records: pa.Table) -> int:
        """Upsert the records for ``wave_id``; returns how many policies were written."""
        ...

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        """Remove what ``wave_id`` wrote (all of it, or those policies); idempotent."""
        ...

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream what the target holds for ``wave_id``, as canonical columns."""
        ...

    def count(self, wave_id: str) -> int:
        """How many policies the target holds for ``wave_id``."""
        ...
