"""Leases: who runs a wave (or any saga, mapping run, assembly run) now.

Revision ID: 0009_leases
Revises: 0008_operations
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_leases"
down_revision = "0008_operations"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lease",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("what", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("process_start", sa.String(32)),
        sa.Column("ttl_seconds", sa.Float, nullable=False),
        sa.Column("acquired_at", Stamp, nullable=False),
        sa.Column("heartbeat_at", Stamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lease")
