"""An index on audit_entry (tenant, id): a replay page of a tenant's whole log walks it in commit
order and stops after the page, instead of sorting every entry of the tenant on each request.

Revision ID: 0015_audit_tenant_order
Revises: 0014_platform_mirror
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015_audit_tenant_order"
down_revision = "0014_platform_mirror"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_entry_tenant", "audit_entry", ["tenant", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_tenant", table_name="audit_entry")
