"""Platform outbox rows say when the platform's own tables (the new_platform target) took the
write, so a write whose target step was cut short by a crash is replayed.

Revision ID: 0014_platform_mirror
Revises: 0013_location_counts
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_platform_mirror"
down_revision = "0013_location_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_outbox") as batch:
        batch.add_column(sa.Column("mirrored_at", sa.DateTime(timezone=True)))
    # Existing rows stay unmarked: the first relay pass writes their policies' current
    # documents into the target's tables (the writes they missed), or marks them when the
    # target holds no such policy.
    op.create_index(
        "ix_platform_outbox_mirror", "platform_outbox", ["tenant", "mirrored_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_platform_outbox_mirror", "platform_outbox")
    with op.batch_alter_table("platform_outbox") as batch:
        batch.drop_column("mirrored_at")
