"""Sync change capture: feeds and bookmarks, the change inbox, per-policy sync state, outboxes.

Revision ID: 0011_sync_changes
Revises: 0010_sync
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sync_changes"
down_revision = "0010_sync"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sync_conflict") as batch:
        batch.add_column(sa.Column("applied_at", Stamp))
    op.create_table(
        "sync_feed",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(128), primary_key=True),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("snapshot_no", sa.Integer, nullable=False),
        sa.Column("source_id", sa.String(64)),
        sa.Column("snapshot_path", sa.String),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("captured_at", Stamp),
    )
    op.create_table(
        "sync_change",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("change_key", sa.String(256), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("delta", sa.JSON, nullable=False),
        sa.Column("hlc", sa.String(96), nullable=False),
        sa.Column("source", sa.String(256)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("applied_at", Stamp),
        sa.UniqueConstraint("tenant", "change_key", name="uq_sync_change_key"),
    )
    op.create_index("ix_sync_change_state", "sync_change", ["tenant", "state", "id"])
    op.create_index("ix_sync_change_policy", "sync_change", ["tenant", "policy_id", "id"])
    op.create_table(
        "sync_policy",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("base", sa.JSON, nullable=False),
        sa.Column("legacy", sa.JSON),
        sa.Column("new", sa.JSON),
        sa.Column("stamps", sa.JSON, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_table(
        "sync_outbound",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON),
        sa.Column("hlc", sa.String(96), nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("delivered_at", Stamp),
    )
    op.create_index(
        "ix_sync_outbound_pending", "sync_outbound", ["tenant", "side", "delivered_at", "id"]
    )
    op.create_table(
        "platform_policy",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("document", sa.JSON),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_table(
        "platform_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("delta", sa.JSON, nullable=False),
        sa.Column("hlc", sa.String(96), nullable=False),
        sa.Column("txid", sa.BigInteger),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("delivered_at", Stamp),
    )
    op.create_index(
        "ix_platform_outbox_pending", "platform_outbox", ["tenant", "delivered_at", "id"]
    )


def downgrade() -> None:
    for name in ("platform_outbox", "platform_policy", "sync_outbound", "sync_policy"):
        op.drop_table(name)
    op.drop_table("sync_change")
    op.drop_table("sync_feed")
    with op.batch_alter_table("sync_conflict") as batch:
        batch.drop_column("applied_at")
