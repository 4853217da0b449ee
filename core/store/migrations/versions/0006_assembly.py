"""Confirmed relationships between sources (whole-policy assembly).

Revision ID: 0006_assembly
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_assembly"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "relationship_set",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source_ids", sa.JSON, nullable=False),
        sa.Column("relationships", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(128)),
        sa.Column("entry_id", BigId, sa.ForeignKey("audit_entry.id")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.UniqueConstraint("tenant", "version", name="uq_relationship_set_version"),
    )


def downgrade() -> None:
    op.drop_table("relationship_set")
