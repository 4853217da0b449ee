"""Tables of the store that the foundation owns: the write-ahead audit log and policy locations.

Schema changes go through Alembic migrations in ``migrations/versions``; these models are the
current shape and must match the newest migration (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    Table,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

# Autoincrement BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class (for bulk statements off the ORM hot path).

    SQLModel sets ``__table__`` at class creation but does not declare it, so type checkers
    cannot see it; this is the one typed place that reads it.
    """
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A stamp read back from the store, made timezone-aware: SQLite hands back naive
    datetimes, and every stamp written is UTC. For ``field_validator(...)(as_utc)``."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# Every table spells its surrogate key and timestamps the same way; a Column belongs to one
# table, so each field gets a fresh one.
def id_field() -> Any:
    """Autoincrement surrogate key (BIGINT on PostgreSQL, rowid INTEGER on SQLite)."""
    return Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))


def stamp_field() -> Any:
    """A UTC timestamp set when the row is made."""
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def optional_stamp_field() -> Any:
    """A UTC timestamp set later (finished, approved...), null until then."""
    return Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuditEntry(SQLModel, table=True):
    """One state-changing operation: intent committed before the work, outcome after it."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_audit_entry_idempotency"),
        Index("ix_audit_entry_tenant", "tenant", "id"),
        Index("ix_audit_entry_ns", "tenant", "namespace", "id"),
        Index("ix_audit_entry_created", "tenant", "created_at"),
        Index("ix_audit_entry_target", "tenant", "target"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    namespace: str = Field(max_length=64)
    operation: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=256)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=256)
    actor: str = Field(max_length=128)
    status: str = Field(max_length=16)  # pending | ok | failed | compensated
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    parent_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    attempts: int = 1
    policy_count: int = 0
    created_at: datetime = stamp_field()
    finished_at: datetime | None = optional_stamp_field()
    # The command / MCP request that caused the entry: the id its log lines carry too.
    correlation_id: str | None = Field(default=None, max_length=64)


class AuditPolicy(SQLModel, table=True):
    """Which policies an entry covers: one row per policy of a group-committed batch."""

    __tablename__ = "audit_policy"
    __table_args__ = (Index("ix_audit_policy_policy", "tenant", "policy_id", "entry_id"),)

    rowid: int | None = id_field()
    entry_id: int = Field(foreign_key="audit_entry.id")
    tenant: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)


class PolicyLocation(SQLModel, table=True):
    """Where each policy lives now: its system of record during coexistence."""

    __tablename__ = "policy_location"

    tenant: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(primary_key=True, max_length=64)
    system: str = Field(max_length=64)
    wave: str | None = Field(default=None, max_length=64)
    run_id: str | None = Field(default=None, max_length=64)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    updated_at: datetime = stamp_field()


class PolicyLocationCount(SQLModel, table=True):
    """How many policies each system holds now (policy_location counted, kept in step by the
    same transactions that write it)."""

    __tablename__ = "policy_location_count"

    tenant: str = Field(primary_key=True, max_length=64)
    system: str = Field(primary_key=True, max_length=64)
    policies: int = 0


class PolicyMove(SQLModel, table=True):
    """Every move of a policy between systems, with time, run and reason."""

    __tablename__ = "policy_move"
    __table_args__ = (Index("ix_policy_move_policy", "tenant", "policy_id", "id"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    from_system: str | None = Field(default=None, max_length=64)
    to_system: str = Field(max_length=64)
    wave: str | None = Field(default=None, max_length=64)
    run_id: str | None = Field(default=None, max_length=64)
    rule: str | None = Field(default=None, max_length=128)
    reason: str | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    moved_at: datetime = stamp_field()


class SourceRow(SQLModel, table=True):
    """An ingested file: staged as Parquet in the workspace, idempotent by content hash."""

    __tablename__ = "source"
    __table_args__ = (
        UniqueConstraint("tenant", "source_id", name="uq_source_id"),
        Index("ix_source_tenant_name", "tenant", "name"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    source_id: str = Field(max_length=64)
    name: str = Field(max_length=256)
    system: str | None = Field(default=None, max_length=128)
    path: str
    format: str = Field(max_length=32)
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_sha256: str = Field(max_length=64)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    records: int = Field(sa_column=Column(BigInteger, nullable=False))
    bad_records: int = Field(sa_column=Column(BigInteger, nullable=False))
    columns: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    staging_dir: str
    layout_fingerprint: str | None = Field(default=None, max_length=128)
    quality_score: float | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()


class RoutingRuleSet(SQLModel, table=True):
    """A stored routing rule-set version: the YAML as written, numbered per name (1, 2, ...)."""

    __tablename__ = "rule_set"
    __table_args__ = (
        UniqueConstraint("tenant", "name", "version", name="uq_rule_set_version"),
        UniqueConstraint("tenant", "name", "sha256", name="uq_rule_set_content"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    name: str = Field(max_length=128)
    version: int
    yaml: str
    sha256: str = Field(max_length=64)
    rules_version: str = Field(max_length=64)  # the `version:` the YAML declares
    canonical: str = Field(max_length=64)  # canonical model the rules route (policy_v1)
    rule_count: int
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()


class MappingRow(SQLModel, table=True):
    """A source-to-canonical mapping: which versions exist and which one is approved."""

    __tablename__ = "mapping"
    __table_args__ = (
        UniqueConstraint("tenant", "mapping_id", name="uq_mapping_id"),
        Index("ix_mapping_source", "tenant", "source_id"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    mapping_id: str = Field(max_length=64)
    source_id: str = Field(max_length=64)
    canonical: str = Field(max_length=64)
    latest_version: int
    approved_version: int | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    updated_at: datetime = stamp_field()


class MappingVersionRow(SQLModel, table=True):
    """One version of a mapping's rules (JSON); approved versions are never changed."""

    __tablename__ = "mapping_version"
    __table_args__ = (
        UniqueConstraint("tenant", "mapping_id", "version", name="uq_mapping_version"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    mapping_id: str = Field(max_length=64)
    version: int
    status: str = Field(max_length=16)  # draft | approved
    rules: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    min_confidence: float | None = None
    actor: str | None = Field(default=None, max_length=128)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    approved_at: datetime | None = optional_stamp_field()


# -- waves: plans, waves, membership, checkpoints, gate results (migration 0005) ---------------
# Appended as a block so parallel work on this file does not collide; imports kept local to it.
from datetime import date as _date  # noqa: E402

from sqlalchemy import Boolean as _Boolean  # noqa: E402
from sqlalchemy import Date as _Date  # noqa: E402


class WavePlanRow(SQLModel, table=True):
    """A wave plan: how a set of sources moves to one target, versioned on every edit."""

    __tablename__ = "wave_plan"
    __table_args__ = (UniqueConstraint("tenant", "plan_id", name="uq_wave_plan_id"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    plan_id: str = Field(max_length=64)
    version: int = 1
    target: str = Field(max_length=64)
    canonical: str = Field(max_length=64)
    source_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    criteria: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    updated_at: datetime = stamp_field()


class WaveRow(SQLModel, table=True):
    """One wave of a plan and the state of its saga (per-milestone state in ``steps``)."""

    __tablename__ = "wave"
    __table_args__ = (
        UniqueConstraint("tenant", "wave_id", name="uq_wave_id"),
        Index("ix_wave_plan", "tenant", "plan_id", "number"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    wave_id: str = Field(max_length=64)
    plan_id: str = Field(max_length=64)
    number: int
    label: str = Field(max_length=256)
    target: str = Field(max_length=64)
    scheduled_for: _date | None = Field(default=None, sa_column=Column(_Date))
    status: str = Field(max_length=16)  # pending|running|failed|cancelled|compensated|completed
    steps: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    gate_overrides: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    validation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    policy_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    migrated: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failed: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    run_no: int = 0
    batch_size: int | None = None
    error: str | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    started_at: datetime | None = optional_stamp_field()
    finished_at: datetime | None = optional_stamp_field()
    created_at: datetime = stamp_field()
    updated_at: datetime = stamp_field()


class WavePolicyRow(SQLModel, table=True):
    """Which wave of a plan a policy belongs to (bulk-inserted, one row per policy and plan)."""

    __tablename__ = "wave_policy"
    __table_args__ = (
        UniqueConstraint("tenant", "plan_id", "policy_id", name="uq_wave_policy"),
        Index("ix_wave_policy_wave", "tenant", "wave_id", "policy_id"),
        Index("ix_wave_policy_policy", "tenant", "policy_id"),
    )

    rowid: int | None = id_field()
    tenant: str = Field(max_length=64)
    plan_id: str = Field(max_length=64)
    wave_id: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    source_id: str = Field(max_length=64)
    lob: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=16)
    coverages: int = 0


class WaveCheckpointRow(SQLModel, table=True):
    """A committed batch of a wave milestone (written with its audit outcome, one commit)."""

    __tablename__ = "wave_checkpoint"

    tenant: str = Field(primary_key=True, max_length=64)
    wave_id: str = Field(primary_key=True, max_length=64)
    milestone: str = Field(primary_key=True, max_length=32)
    batch_no: int = Field(primary_key=True)
    rows: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    outcome: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()


class WaveGateResultRow(SQLModel, table=True):
    """One quality-gate check of a wave: verdict, failing count and a sample of failing keys."""

    __tablename__ = "wave_gate_result"
    __table_args__ = (Index("ix_wave_gate_result_wave", "tenant", "wave_id", "id"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    wave_id: str = Field(max_length=64)
    gate: str = Field(max_length=64)
    passed: bool = Field(sa_column=Column(_Boolean, nullable=False))
    checked: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failing: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sample: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: str = ""
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    checked_at: datetime = stamp_field()


# -- assembly: confirmed relationships between sources (migration 0006_assembly) --------------


class RelationshipSetRow(SQLModel, table=True):
    """One confirmed version of how a tenant's sources relate (immutable once written)."""

    __tablename__ = "relationship_set"
    __table_args__ = (UniqueConstraint("tenant", "version", name="uq_relationship_set_version"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    version: int
    source_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    relationships: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    actor: str | None = Field(default=None, max_length=128)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()


class AssemblyRow(SQLModel, table=True):
    """An assembly spec: root, components, survivorship, crosswalks (frozen once approved)."""

    __tablename__ = "assembly"
    __table_args__ = (UniqueConstraint("tenant", "assembly_id", name="uq_assembly_id"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    assembly_id: str = Field(max_length=64)
    version: int = 1
    status: str = Field(max_length=16)  # draft | approved
    root: str = Field(max_length=64)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    min_confidence: float | None = None
    # approved: the rules each component's mapping runs with, frozen with the assembly
    component_rules: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    actor: str | None = Field(default=None, max_length=128)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    approved_at: datetime | None = optional_stamp_field()


# -- operations: API tokens (migration 0008_operations) -----------------------------------------


class ApiTokenRow(SQLModel, table=True):
    """A bearer token for the HTTP servers (MCP and REST): only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (
        UniqueConstraint("token_id", name="uq_api_token_id"),
        Index("ix_api_token_tenant", "tenant", "id"),
    )

    id: int | None = id_field()
    token_id: str = Field(max_length=32)  # public part, shown in listings and logs
    tenant: str = Field(max_length=64)
    role: str = Field(max_length=16)  # viewer | operator | approver
    label: str | None = Field(default=None, max_length=128)
    secret_sha256: str = Field(max_length=64)
    created_by: str = Field(max_length=128)
    created_at: datetime = stamp_field()
    revoked_at: datetime | None = optional_stamp_field()


# -- leases: who runs a named piece of work now (migration 0009_leases) -----------------------


class LeaseRow(SQLModel, table=True):
    """Who runs a named piece of work now (a wave run, a saga, a mapping or assembly run).

    One row per running lease; a dead holder's lease is taken over (see core/store/leases.py).
    """

    __tablename__ = "lease"

    tenant: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=256)
    owner: str = Field(max_length=64)
    what: str = Field(max_length=256)
    pid: int
    host: str = Field(max_length=255)
    process_start: str | None = Field(default=None, max_length=32)
    ttl_seconds: float
    acquired_at: datetime = stamp_field()
    heartbeat_at: datetime = stamp_field()


# -- API jobs: wave runs and rollbacks started over HTTP (migration 0016_api_jobs) ------------


class ApiJobRow(SQLModel, table=True):
    """A wave run or rollback the API started: its progress and outcome, readable from every
    server process on the store. One job per wave at a time is the lease ``api-job:<wave>``
    (``lease_owner`` is its holder), not this table."""

    __tablename__ = "api_job"
    __table_args__ = (Index("ix_api_job_wave", "tenant", "wave_id", "started_at"),)

    job_id: str = Field(primary_key=True, max_length=32)
    tenant: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # run | rollback
    wave_id: str = Field(max_length=64)
    state: str = Field(max_length=16)  # running | succeeded | failed
    milestone: str | None = Field(default=None, max_length=64)
    done: int = 0
    total: int | None = None
    percent: float = 0.0
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    lease_owner: str = Field(max_length=64)
    started_at: datetime = stamp_field()
    finished_at: datetime | None = optional_stamp_field()


# -- sync: coexistence of legacy and new (migration 0010_sync) --------------------------------


class SyncClockRow(SQLModel, table=True):
    """The high-water mark of one node's hybrid logical clock (survives restarts)."""

    __tablename__ = "sync_clock"

    tenant: str = Field(primary_key=True, max_length=64)
    node: str = Field(primary_key=True, max_length=64)
    wall_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    logical: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = stamp_field()


class SyncOwnershipRow(SQLModel, table=True):
    """The system of record of one policy: legacy, new or dual, since when, which wave, why."""

    __tablename__ = "sync_ownership"
    __table_args__ = (Index("ix_sync_ownership_owner", "tenant", "owner"),)

    tenant: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=16)  # legacy | new | dual
    since: datetime = stamp_field()
    wave: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=256)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")


class SyncConflictRow(SQLModel, table=True):
    """A field both sides changed that the conflict policy leaves to a person."""

    __tablename__ = "sync_conflict"
    __table_args__ = (
        Index("ix_sync_conflict_state", "tenant", "state", "id"),
        Index("ix_sync_conflict_policy", "tenant", "policy_id", "path"),
        Index("ix_sync_conflict_kind", "tenant", "kind", "state"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    path: str = Field(max_length=256)
    group_name: str = Field(max_length=64)
    state: str = Field(max_length=16)  # open | resolved
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    legacy_source: str | None = Field(default=None, max_length=256)
    new_source: str | None = Field(default=None, max_length=256)
    resolution: str | None = Field(default=None, max_length=16)
    resolved_value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    decided_by: str | None = Field(default=None, max_length=128)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    resolved_at: datetime | None = optional_stamp_field()
    # when `sync run` carried the decision to both sides (migration 0011_sync_changes)
    applied_at: datetime | None = optional_stamp_field()
    # update_update | delete_update | insert_insert (migration 0012_sync_conflict_kind)
    kind: str | None = Field(default=None, max_length=32)


# -- sync: change capture, outboxes, per-policy sync state (migration 0011_sync_changes) -------


class SyncFeedRow(SQLModel, table=True):
    """A legacy extract feed: its column map and the bookmark of the last synced snapshot."""

    __tablename__ = "sync_feed"

    tenant: str = Field(primary_key=True, max_length=64)
    feed: str = Field(primary_key=True, max_length=128)
    columns: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    snapshot_no: int = 0
    source_id: str | None = Field(default=None, max_length=64)
    snapshot_path: str | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    captured_at: datetime | None = optional_stamp_field()


class SyncChangeRow(SQLModel, table=True):
    """A captured change of one policy on one side (the inbox ``sync run`` applies)."""

    __tablename__ = "sync_change"
    __table_args__ = (
        UniqueConstraint("tenant", "change_key", name="uq_sync_change_key"),
        Index("ix_sync_change_state", "tenant", "state", "id"),
        Index("ix_sync_change_policy", "tenant", "policy_id", "id"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    change_key: str = Field(max_length=256)
    origin: str = Field(max_length=16)  # legacy | new
    policy_id: str = Field(max_length=64)
    op: str = Field(max_length=16)  # insert | update | delete
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    delta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hlc: str = Field(max_length=96)
    source: str | None = Field(default=None, max_length=256)
    state: str = Field(max_length=16)  # pending | applied
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    applied_at: datetime | None = optional_stamp_field()


class SyncPolicyRow(SQLModel, table=True):
    """Per policy: the last agreed version (base), each side as last known, per-path stamps."""

    __tablename__ = "sync_policy"

    tenant: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(primary_key=True, max_length=64)
    base: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    legacy: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    new: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    stamps: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    updated_at: datetime = stamp_field()


class SyncOutboundRow(SQLModel, table=True):
    """Merged values owed to one side, written with the decision; the relay delivers them."""

    __tablename__ = "sync_outbound"
    __table_args__ = (Index("ix_sync_outbound_pending", "tenant", "side", "delivered_at", "id"),)

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    side: str = Field(max_length=16)  # legacy | new
    policy_id: str = Field(max_length=64)
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    hlc: str = Field(max_length=96)
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = stamp_field()
    delivered_at: datetime | None = optional_stamp_field()


class PlatformPolicyRow(SQLModel, table=True):
    """The new platform's current document of a policy (as written through data-mash)."""

    __tablename__ = "platform_policy"

    tenant: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(primary_key=True, max_length=64)
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    version: int = 1
    updated_at: datetime = stamp_field()


class PlatformOutboxRow(SQLModel, table=True):
    """A platform write's change event, committed in the same transaction as the write."""

    __tablename__ = "platform_outbox"
    __table_args__ = (
        Index("ix_platform_outbox_pending", "tenant", "delivered_at", "id"),
        Index("ix_platform_outbox_mirror", "tenant", "mirrored_at", "id"),
    )

    id: int | None = id_field()
    tenant: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    origin: str = Field(max_length=16)  # new (a platform user) | sync (a merged value)
    op: str = Field(max_length=16)
    delta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hlc: str = Field(max_length=96)
    txid: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = stamp_field()
    delivered_at: datetime | None = optional_stamp_field()
    # when the platform's own tables (the new_platform target) took the write: in the same
    # commit when they share the store's database, else just after (migration 0014_platform_mirror)
    mirrored_at: datetime | None = optional_stamp_field()
