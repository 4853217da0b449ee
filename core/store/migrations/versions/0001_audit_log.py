"""Write-ahead audit log, audit policies, policy locations and moves.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(256)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.JSON),
        sa.Column("error", sa.String),
        sa.Column("parent_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("policy_count", sa.Integer, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_audit_entry_idempotency"),
    )
    op.create_index("ix_audit_entry_ns", "audit_entry", ["tenant", "namespace", "id"])
    op.create_index("ix_audit_entry_created", "audit_entry", ["tenant", "created_at"])
    op.create_index("ix_audit_entry_target", "audit_entry", ["tenant", "target"])
    op.create_table(
        "audit_policy",
        sa.Column("rowid", BigId, primary_key=True, autoincrement=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id"), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_policy_policy", "audit_policy", ["tenant", "policy_id", "entry_id"])
    op.create_table(
        "policy_location",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("wave", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_table(
        "policy_move",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("from_system", sa.String(64)),
        sa.Column("to_system", sa.String(64), nullable=False),
        sa.Column("wave", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("rule", sa.String(128)),
        sa.Column("reason", sa.String),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("moved_at", Stamp, nullable=False),
    )
    op.create_index("ix_policy_move_policy", "policy_move", ["tenant", "policy_id", "id"])


def downgrade() -> None:
    op.drop_table("policy_move")
    op.drop_table("policy_location")
    op.drop_table("audit_policy")
    op.drop_table("audit_entry")
