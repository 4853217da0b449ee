"""Stored routing rule-set versions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rule_set",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("yaml", sa.String, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("canonical", sa.String(64), nullable=False),
        sa.Column("rule_count", sa.Integer, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "name", "version", name="uq_rule_set_version"),
        sa.UniqueConstraint("tenant", "name", "sha256", name="uq_rule_set_content"),
    )


def downgrade() -> None:
    op.drop_table("rule_set")
