"""Contracts of coexistence sync: what the CLI's --json and the sync MCP server return."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import total_ordering
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.metrics import SYNC_CONFLICTS, count
from core.store.models import as_utc
from tools.audit.contracts import PolicyWhereabouts


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


class ChangeState(StrEnum):
    """Whether a captured change is still to be applied to the other side."""

    PENDING = "pending"
    APPLIED = "applied"


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


class LocatedPolicy(PolicyWhereabouts):
    """`data-mash locate POLICY_ID --json`: where a policy is, and who owns it now."""

    owner: LedgerEntry | None = Field(
        None, description="The policy's system of record (ownership ledger), if one is set."
    )


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


class AdoptReport(BaseModel):
    """What taking a completed wave's migrated policies into sync did."""

    wave_id: str
    target: str = Field(description="The target store the policies were read back from.")
    policies: int = Field(0, description="Policies the target holds for the wave.")
    fresh: int = Field(
        0, description="Policies sync did not follow yet: the wave's document is their base."
    )
    changed: int = Field(
        0, description="Followed policies whose new side differed: recorded as changes."
    )


class WaveAdoption(BaseModel):
    """After a wave: its policies' owner recorded, and (new side) its documents taken by sync."""

    ledger: LedgerUpdate
    adopted: AdoptReport | None = Field(
        None, description="None for a wave to the legacy side (the new side holds nothing)."
    )


class RenewalUpdate(BaseModel):
    """What the on-renewal rule changed in the ownership ledger."""

    owner: Owner = Field(description="The owner policies moved to at their renewal.")
    as_of: date = Field(description="Renewals due on or before this day were applied.")
    moved: int = Field(0, description="Policies whose renewal date had come, moved now.")
    unreadable: int = Field(0, description="Renewal dates that are not YYYY-MM-DD, left alone.")


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
        description="Seconds since the oldest change not yet carried to both sides was "
        "recorded (captured, in the platform outbox, or owed to a side); None when in step."
    )
    backlog: int = Field(
        description="Changes waiting: captured or forwarded but not applied, platform outbox "
        "rows not forwarded, merged values not delivered."
    )
    pending_changes: int = 0
    pending_outbox: int = 0
    pending_outbound: int = 0
    oldest_pending: datetime | None = Field(
        None, description="When the oldest waiting change came."
    )
    conflicts: int = Field(description="Conflicts open (waiting for a person).")
    resolved: int = Field(description="Conflicts decided so far (by the policy or a person).")
    conflicts_by_type: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Per conflict type (update_update, delete_update, insert_insert): open and "
        "resolved counts.",
    )
    oldest_conflict: datetime | None = None
    ledger: dict[str, int] = Field(description="Policies per owner.")

    _utc = field_validator("oldest_pending", "oldest_conflict")(as_utc)


class CaptureResult(BaseModel):
    """What one legacy extract changed against the feed's last synced snapshot."""

    feed: str
    source_id: str
    snapshot: int = Field(description="The feed's snapshot number this extract became.")
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    unchanged: bool = Field(False, description="The extract is the feed's current snapshot.")
    baseline: bool = Field(
        False, description="Recorded as the feed's starting snapshot, without changes."
    )
    receipts: int = Field(0, description="Corrections the legacy loader reported as loaded.")


class PlatformWrite(BaseModel):
    """What one write to the new platform did (``op`` none: it already held that document)."""

    policy_id: str
    op: str = Field(description="insert, update, delete, or none.")
    changed: list[str] = Field(description="The flat paths the write changed.")
    version: int = Field(description="The policy's version on the platform after the write.")
    outbox_id: int | None = Field(None, description="The outbox event of the write.")
    wave_id: str | None = Field(
        None,
        description="The wave under which the platform's own tables (new_platform target) hold "
        "the policy and took the write; None when no wave placed it there.",
    )
    skipped: list[str] = Field(
        default_factory=list, description="Patched paths left alone: written meanwhile."
    )


class PolicyWrite(BaseModel):
    """Where a write through data-mash went (selective write, by the ownership ledger)."""

    policy_id: str
    owner: Owner = Field(description="The system of record the write was routed by.")
    changed: list[str] = Field(description="The flat paths the write changes.")
    platform: PlatformWrite | None = Field(
        None, description="The new platform's write (owner new), with its outbox event."
    )
    to_new: bool = Field(False, description="The new platform takes (or is owed) the write.")
    to_legacy: bool = Field(
        False, description="A correction for the legacy loader is owed (owner legacy or dual)."
    )


class RelayReport(BaseModel):
    """One relay pass: events forwarded, echoes dropped, merged values delivered per side."""

    forwarded: int = Field(0, description="Platform events recorded as changes from new.")
    echoes: int = Field(0, description="Platform events of sync's own writes, not sent back.")
    to_new: int = Field(0, description="Merged values written to the new platform.")
    to_legacy: int = Field(0, description="Merged values dropped for the legacy side.")


class ApplyReport(BaseModel):
    """What applying pending changes did."""

    applied: int = Field(0, description="Changes applied.")
    acknowledged: int = Field(
        0,
        description="Reports that a side holds what sync sent it (platform echoes, legacy "
        "load receipts): they move the base, never anything back.",
    )
    from_legacy: int = Field(0, description="Fields taken from the legacy side (one-sided).")
    from_new: int = Field(0, description="Fields taken from the new side (one-sided).")
    resolved: int = Field(0, description="Two-sided fields decided by the conflict policy.")
    queued: int = Field(0, description="Two-sided fields queued for a person.")
    resolutions: int = Field(0, description="People's decisions carried to both sides.")
    to_new: int = Field(0, description="Merged values owed to the new platform.")
    to_legacy: int = Field(0, description="Merged values owed to the legacy side.")

    def add(self, other: ApplyReport) -> None:
        for name in ApplyReport.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_outbound(self, side: str) -> None:
        if side == "new":
            self.to_new += 1
        else:
            self.to_legacy += 1

    def count_metrics(self) -> None:

        if self.resolved:
            count(SYNC_CONFLICTS, self.resolved, resolution="policy")
        if self.queued:
            count(SYNC_CONFLICTS, self.queued, resolution="queued")


class SweepReport(BaseModel):
    """An anti-entropy sweep: policies compared, found drifted, repaired (as changes)."""

    compared: int = 0
    drifted: int = 0
    repaired: int = 0


class RollbackRelease(BaseModel):
    """Policies of rolled-back waves handed back to legacy: the new side no longer holds them."""

    waves: list[str] = Field(default_factory=list, description="Rolled-back waves released.")
    policies: int = Field(0, description="Policies moved back to legacy by those waves.")
    dropped: int = Field(0, description="Merged values still owed to the new side, dropped.")


class SyncRunReport(BaseModel):
    """One ``sync run``: outbox forwarded, changes applied, merged values delivered."""

    forwarded: int = Field(description="Platform outbox events recorded as changes.")
    echoes: int = Field(description="Events of sync's own writes, not sent back (no ping-pong).")
    apply: ApplyReport
    delivered_new: int = Field(description="Merged values written to the new platform.")
    delivered_legacy: int = Field(description="Merged values dropped for the legacy side.")
    renewed: RenewalUpdate | None = Field(
        None, description="Policies the on-renewal rule moved first (when the policy has one)."
    )
    released: RollbackRelease | None = Field(
        None,
        description="Present when waves were rolled back since: their policies, back to legacy.",
        exclude_if=lambda value: value is None,
    )
    status: SyncStatus


class LedgerReport(LedgerPage):
    """`data-mash sync ledger --json`: one page, and the wave recorded first (--from-wave)."""

    update: LedgerUpdate | None = Field(
        None,
        description="Present with --from-wave: the owner change recorded for the wave.",
        exclude_if=lambda value: value is None,
    )


class SyncRun(SyncRunReport):
    """`data-mash sync run --json`: the run, and the sweep before it (--sweep)."""

    sweep: SweepReport | None = Field(
        None,
        description="Present with --sweep: the anti-entropy sweep that ran first.",
        exclude_if=lambda value: value is None,
    )
