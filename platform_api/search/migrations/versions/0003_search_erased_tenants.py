"""Search: organizations erased (LGPD), whose late events must not index anything again.

Revision ID: 0003
Revises: 0002

Like ``known_tenants``, the table holds ids only and no tenant's data, so it has no RLS.
"""

from platform_api.kernel.migrations import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        CREATE TABLE erased_tenants (
            tenant_id uuid PRIMARY KEY,
            erased_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    run_sql("DROP TABLE erased_tenants;")
