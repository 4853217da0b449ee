"""Tables of the store that the foundation owns: the write-ahead audit log and policy locations.

Schema changes go through Alembic migrations in ``migrations/versions``; these models are the
current shape and must match the newest migration (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

# Autoincrement BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditEntry(SQLModel, table=True):
    """One state-changing operation: intent committed before the work, outcome after it."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_audit_entry_idempotency"),
        Index("ix_audit_entry_ns", "tenant", "namespace", "id"),
        Index("ix_audit_entry_created", "tenant", "created_at"),
        Index("ix_audit_entry_target", "tenant", "target"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuditPolicy(SQLModel, table=True):
    """Which policies an entry covers: one row per policy of a group-committed batch."""

    __tablename__ = "audit_policy"
    __table_args__ = (Index("ix_audit_policy_policy", "tenant", "policy_id", "entry_id"),)

    rowid: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
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
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class PolicyMove(SQLModel, table=True):
    """Every move of a policy between systems, with time, run and reason."""

    __tablename__ = "policy_move"
    __table_args__ = (Index("ix_policy_move_policy", "tenant", "policy_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    tenant: str = Field(max_length=64)
    policy_id: str = Field(max_length=64)
    from_system: str | None = Field(default=None, max_length=64)
    to_system: str = Field(max_length=64)
    wave: str | None = Field(default=None, max_length=64)
    run_id: str | None = Field(default=None, max_length=64)
    rule: str | None = Field(default=None, max_length=128)
    reason: str | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    moved_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class SourceRow(SQLModel, table=True):
    """An ingested file: staged as Parquet in the workspace, idempotent by content hash."""

    __tablename__ = "source"
    __table_args__ = (
        UniqueConstraint("tenant", "source_id", name="uq_source_id"),
        Index("ix_source_tenant_name", "tenant", "name"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
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
    columns: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    staging_dir: str
    layout_fingerprint: str | None = Field(default=None, max_length=128)
    quality_score: float | None = None
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class RoutingRuleSet(SQLModel, table=True):
    """A stored routing rule-set version: the YAML as written, numbered per name (1, 2, ...)."""

    __tablename__ = "rule_set"
    __table_args__ = (
        UniqueConstraint("tenant", "name", "version", name="uq_rule_set_version"),
        UniqueConstraint("tenant", "name", "sha256", name="uq_rule_set_content"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    tenant: str = Field(max_length=64)
    name: str = Field(max_length=128)
    version: int
    yaml: str
    sha256: str = Field(max_length=64)
    rules_version: str = Field(max_length=64)  # the `version:` the YAML declares
    canonical: str = Field(max_length=64)  # canonical model the rules route (policy_v1)
    rule_count: int
    entry_id: int | None = Field(default=None, foreign_key="audit_entry.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
