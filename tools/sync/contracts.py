"""Contracts of coexistence sync: what the CLI's --json and the sync MCP server return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import total_ordering
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.store.models import as_utc


class Owner(StrEnum):
    """The system of record of a policy during coexistence."""

    LEGACY = "legacy"
    NEW = "new"
    DUAL = "dual"


class Side(StrEnum):
    """One of the two systems kept in step."""

    LEGACY = "legacy"
    NEW = "new"


class Strategy(StrEnum):
    """How a field changed on both sides to different values is decided."""

    OWNER_WINS = "owner_wins"
    NEWEST_WINS = "newest_wins"
    STATE_MACHINE = "state_machine"
    MANUAL = "manual"


class ConflictState(StrEnum):
    """Whether a queued conflict still waits for a person."""

    OPEN = "open"
    RESOLVED = "resolved"


@total_ordering
class HlcStamp(BaseModel):
    """A hybrid logical clock reading: wall milliseconds, a logical counter, the node.

    Ordered by ``(wall_ms, logical, node)``: the node breaks ties, so two distinct nodes never
    produce equal stamps and "newest" is always decided the same way.
    """

    model_config = ConfigDict(frozen=True)

    wall_ms: int = Field(ge=0)
    logical: int = Field(ge=0)
    node: str = Field(min_length=1, max_length=64)

    def key(self) -> tuple[int, int, str]:
        return (self.wall_ms, self.logical, self.node)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, HlcStamp):
            return NotImplemented
        return self.key() < other.key()

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}.{self.logical:05d}@{self.node}"


class FieldDecision(BaseModel):
    """A field both sides changed to different values, and what became of it."""

    path: str = Field(description="Dotted canonical path; list items keyed by their id.")
    group: str = Field(description="The conflict-policy field group the path belongs to.")
    strategy: Strategy
    base: Any = None
    legacy: Any = None
    new: Any = None
    winner: Side | None = Field(None, description="The side whose value won; None when queued.")
    value: Any = Field(None, description="The merged value; the base value while queued.")
    reason: str


class MergeResult(BaseModel):
    """A three-way, field-level merge of one policy."""

    merged: dict[str, Any] = Field(description="The merged document, flattened to dotted paths.")
    from_legacy: list[str] = Field(description="Paths changed on the legacy side only, applied.")
    from_new: list[str] = Field(description="Paths changed on the new side only, applied.")
    resolved: list[FieldDecision] = Field(description="Two-sided changes decided by policy.")
    queued: list[FieldDecision] = Field(description="Two-sided changes left for a person.")
    ping_back: list[Side] = Field(
        default_factory=list, description="Sides that must receive the merged values."
    )


class LedgerEntry(BaseModel):
    """Who owns a policy now (selective write): since when, by which wave, why."""

    policy_id: str
    owner: Owner
    since: datetime
    wave: str | None = None
    reason: str
    entry_id: int | None = Field(None, description="Audit entry that made the change.")

    _utc = field_validator("since")(as_utc)


class LedgerPage(BaseModel):
    """Ownership ledger entries (paged)."""

    entries: list[LedgerEntry]
    by_owner: dict[str, int] = Field(description="Policies per owner in the whole ledger.")
    next_cursor: str | None = None
    total: int = 0


class LedgerUpdate(BaseModel):
    """What deriving the ledger from one completed wave changed."""

    wave_id: str
    owner: Owner
    changed: int = Field(description="Policies whose owner changed (or that were new).")
    unchanged: int
    entry_id: int | None = None


class ConflictRecord(BaseModel):
    """A queued field conflict: both values, the base, where each came from, who decided."""

    id: int
    policy_id: str
    path: str
    group: str
    state: ConflictState
    base: Any = None
    legacy: Any = None
    new: Any = None
    legacy_source: str | None = None
    new_source: str | None = None
    resolution: str | None = Field(None, description="legacy, new or value, once resolved.")
    resolved_value: Any = None
    decided_by: str | None = None
    created_at: datetime
    resolved_at: datetime | None = None

    _utc = field_validator("created_at", "resolved_at")(as_utc)


class ConflictPage(BaseModel):
    """Queued conflicts (paged)."""

    conflicts: list[ConflictRecord]
    next_cursor: str | None = None
    total: int = 0


class SyncStatus(BaseModel):
    """How far the two sides are apart now."""

    lag: float | None = Field(
        description="Seconds since the oldest open conflict was queued; None when in step."
    )
    backlog: int = Field(description="Changes waiting to be applied (open conflicts today).")
    conflicts: int = Field(description="Conflicts open.")
    resolved: int = Field(description="Conflicts resolved so far.")
    oldest_pending: datetime | None = None
    ledger: dict[str, int] = Field(description="Policies per owner.")

    _utc = field_validator("oldest_pending")(as_utc)


class CaptureResult(BaseModel):
    """What one legacy extract changed against the feed's last synced snapshot."""

    feed: str
    source_id: str
    snapshot: int = Field(description="The feed's snapshot number this extract became.")
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    unchanged: bool = Field(False, description="The extract is the feed's current snapshot.")


class PlatformWrite(BaseModel):
    """What one write to the new platform did (``op`` none: it already held that document)."""

    policy_id: str
    op: str = Field(description="insert, update, delete, or none.")
    changed: list[str] = Field(description="The flat paths the write changed.")
    version: int = Field(description="The policy's version on the platform after the write.")
    outbox_id: int | None = Field(None, description="The outbox event of the write.")


class RelayReport(BaseModel):
    """One relay pass: events forwarded, echoes dropped, merged values delivered per side."""

    forwarded: int = Field(0, description="Platform events recorded as changes from new.")
    echoes: int = Field(0, description="Platform events of sync's own writes, not sent back.")
    to_new: int = Field(0, description="Merged values written to the new platform.")
    to_legacy: int = Field(0, description="Merged values dropped for the legacy side.")
