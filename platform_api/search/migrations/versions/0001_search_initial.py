"""Search bookkeeping: the version of every indexed document, and the tenants seen.

Revision ID: 0001
Revises:

The index itself lives in tantivy or OpenSearch; this database remembers which version of
each document the index holds (so duplicate and out-of-order events are skipped) and when
it was indexed (lag). ``known_tenants`` holds tenant ids only, so that an operator's full
rebuild knows whom to rebuild; it is the one table without tenant RLS, by design.
"""

from platform_api.kernel.migrations import run_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        CREATE FUNCTION app_current_tenant() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

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
        ALTER TABLE index_versions ENABLE ROW LEVEL SECURITY;
        ALTER TABLE index_versions FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON index_versions
            USING (tenant_id = app_current_tenant())
            WITH CHECK (tenant_id = app_current_tenant());

        CREATE TABLE known_tenants (
            tenant_id uuid PRIMARY KEY,
            first_seen_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    run_sql(
        """
        DROP TABLE known_tenants, index_versions;
        DROP FUNCTION app_current_tenant();
        """
    )
