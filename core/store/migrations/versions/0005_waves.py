"""Wave plans, waves, wave membership, saga checkpoints and quality-gate results.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wave_plan",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("canonical", sa.String(64), nullable=False),
        sa.Column("source_ids", sa.JSON, nullable=False),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.UniqueConstraint("tenant", "plan_id", name="uq_wave_plan_id"),
    )
    op.create_table(
        "wave",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("wave_id", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("scheduled_for", sa.Date),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("gate_overrides", sa.JSON, nullable=False),
        sa.Column("validation", sa.JSON),
        sa.Column("policy_count", sa.BigInteger, nullable=False),
        sa.Column("migrated", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("run_no", sa.Integer, nullable=False),
        sa.Column("batch_size", sa.Integer),
        sa.Column("error", sa.String),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("started_at", Stamp),
        sa.Column("finished_at", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.UniqueConstraint("tenant", "wave_id", name="uq_wave_id"),
    )
    op.create_index("ix_wave_plan", "wave", ["tenant", "plan_id", "number"])
    op.create_table(
        "wave_policy",
        sa.Column("rowid", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("wave_id", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("lob", sa.String(64)),
        sa.Column("state", sa.String(16)),
        sa.Column("coverages", sa.Integer, nullable=False),
        sa.UniqueConstraint("tenant", "plan_id", "policy_id", name="uq_wave_policy"),
    )
    op.create_index("ix_wave_policy_wave", "wave_policy", ["tenant", "wave_id", "policy_id"])
    op.create_index("ix_wave_policy_policy", "wave_policy", ["tenant", "policy_id"])
    op.create_table(
        "wave_checkpoint",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("wave_id", sa.String(64), primary_key=True),
        sa.Column("milestone", sa.String(32), primary_key=True),
        sa.Column("batch_no", sa.Integer, primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
    )
    op.create_table(
        "wave_gate_result",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("wave_id", sa.String(64), nullable=False),
        sa.Column("gate", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("checked", sa.BigInteger, nullable=False),
        sa.Column("failing", sa.BigInteger, nullable=False),
        sa.Column("sample", sa.JSON, nullable=False),
        sa.Column("detail", sa.String, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("checked_at", Stamp, nullable=False),
    )
    op.create_index("ix_wave_gate_result_wave", "wave_gate_result", ["tenant", "wave_id", "id"])


def downgrade() -> None:
    op.drop_table("wave_gate_result")
    op.drop_table("wave_checkpoint")
    op.drop_table("wave_policy")
    op.drop_table("wave")
    op.drop_table("wave_plan")
