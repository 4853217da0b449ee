"""API tokens (hashed at rest) and the correlation id of each audit entry.

Revision ID: 0008_operations
Revises: 0007_assembly_spec
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_operations"
down_revision = "0007_assembly_spec"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(128)),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp),
        sa.UniqueConstraint("token_id", name="uq_api_token_id"),
    )
    op.create_index("ix_api_token_tenant", "api_token", ["tenant", "id"])
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("correlation_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("correlation_id")
    op.drop_index("ix_api_token_tenant", "api_token")
    op.drop_table("api_token")
