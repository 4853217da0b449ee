"""Assembly specs (whole-policy assembly around a root source).

Revision ID: 0007_assembly_spec
Revises: 0006_assembly
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_assembly_spec"
down_revision = "0006_assembly"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assembly",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("assembly_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("min_confidence", sa.Float),
        sa.Column("component_rules", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(128)),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("approved_at", Stamp),
        sa.UniqueConstraint("tenant", "assembly_id", name="uq_assembly_id"),
    )


def downgrade() -> None:
    op.drop_table("assembly")
