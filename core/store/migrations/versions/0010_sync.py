"""Coexistence sync: clock high-water marks, the ownership ledger, the conflict queue.

Revision ID: 0010_sync
Revises: 0009_leases
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_sync"
down_revision = "0009_leases"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_clock",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("wall_ms", sa.BigInteger, nullable=False),
        sa.Column("logical", sa.BigInteger, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_table(
        "sync_ownership",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("since", Stamp, nullable=False),
        sa.Column("wave", sa.String(64)),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
    )
    op.create_index("ix_sync_ownership_owner", "sync_ownership", ["tenant", "owner"])
    op.create_table(
        "sync_conflict",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(256), nullable=False),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("legacy_source", sa.String(256)),
        sa.Column("new_source", sa.String(256)),
        sa.Column("resolution", sa.String(16)),
        sa.Column("resolved_value", sa.JSON),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("resolved_at", Stamp),
    )
    op.create_index("ix_sync_conflict_state", "sync_conflict", ["tenant", "state", "id"])
    op.create_index("ix_sync_conflict_policy", "sync_conflict", ["tenant", "policy_id", "path"])


def downgrade() -> None:
    op.drop_table("sync_conflict")
    op.drop_table("sync_ownership")
    op.drop_table("sync_clock")
