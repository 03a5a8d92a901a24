"""Search bookkeeping: the version of every indexed document, and the tenants seen.

Revision ID: 0001
Revises:

The index itself lives in tantivy or OpenSearch; this database remembers which version of
each document the index holds (so duplicate and out-of-order events are skipped) and when
it was indexed (lag). ``known_tenants`` holds tenant ids only, so that an operator's full
rebuild knows whom to rebuild; it is the one table without tenant RLS, by design.
"""

from platform_api.kernel.migrations import (
    create_tenant_function,
    drop_tenant_function,
    enable_tenant_rls,
    run_sql,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_tenant_function()
    run_sql(
        """
        CREATE TABLE index_versions (
            tenant_id uuid NOT NULL,
            kind varchar(20) NOT NULL,
            doc_id uuid NOT NULL,
            version integer NOT NULL,
            deleted boolean NOT NULL DEFAULT false,
            event_id uuid,
            occurred_at timestamptz,
            indexed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, kind, doc_id)
        );
        CREATE TABLE known_tenants (
            tenant_id uuid PRIMARY KEY,
            first_seen_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    enable_tenant_rls("index_versions")


def downgrade() -> None:
    run_sql("DROP TABLE known_tenants, index_versions;")
    drop_tenant_function()
