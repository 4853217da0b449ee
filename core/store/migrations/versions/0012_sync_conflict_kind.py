"""Sync conflicts carry their kind (update_update, delete_update, insert_insert) for counters.

Revision ID: 0012_sync_conflict_kind
Revises: 0011_sync_changes
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_sync_conflict_kind"
down_revision = "0011_sync_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_conflict") as batch:
        batch.add_column(sa.Column("kind", sa.String(32)))
    op.create_index("ix_sync_conflict_kind", "sync_conflict", ["tenant", "kind", "state"])


def downgrade() -> None:
    op.drop_index("ix_sync_conflict_kind", "sync_conflict")
    with op.batch_alter_table("sync_conflict") as batch:
        batch.drop_column("kind")
