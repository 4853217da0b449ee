"""Policies per system, kept beside policy_location so the dashboard's routing distribution is
one small read instead of a count over every located policy.

Revision ID: 0013_location_counts
Revises: 0012_sync_conflict_kind
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_location_counts"
down_revision = "0012_sync_conflict_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_location_count",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("policies", sa.Integer, nullable=False),
    )
    # Existing workspaces: count once what is already placed.
    op.execute(
        "INSERT INTO policy_location_count (tenant, system, policies) "
        "SELECT tenant, system, COUNT(*) FROM policy_location GROUP BY tenant, system"
    )


def downgrade() -> None:
    op.drop_table("policy_location_count")
