"""API jobs in the store: a wave run or rollback started over HTTP, readable from every server
process (``data-mash serve api --workers N``), not only the one that started it.

Revision ID: 0016_api_jobs
Revises: 0015_audit_tenant_order
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_api_jobs"
down_revision = "0015_audit_tenant_order"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_job",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("wave_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("milestone", sa.String(64)),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("percent", sa.Float, nullable=False),
        sa.Column("result", sa.JSON),
        sa.Column("error", sa.String),
        sa.Column("lease_owner", sa.String(64), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
    )
    op.create_index("ix_api_job_wave", "api_job", ["tenant", "wave_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_api_job_wave", table_name="api_job")
    op.drop_table("api_job")
