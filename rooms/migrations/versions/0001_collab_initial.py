"""Collab: room update log and snapshots, tenant-scoped with forced RLS.

Revision ID: 0001
Revises:
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

        CREATE TABLE room_updates (
            seq bigserial PRIMARY KEY,
            tenant_id uuid NOT NULL,
            room text NOT NULL,
            update bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX idx_room_updates_room ON room_updates (tenant_id, room, seq);

        CREATE TABLE room_snapshots (
            tenant_id uuid NOT NULL,
            room text NOT NULL,
            seq_upto bigint NOT NULL,
            inline_state bytea,
            blob_key text,
            size integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, room, seq_upto),
            CHECK ((inline_state IS NULL) <> (blob_key IS NULL))
        );
        """
    )
    for table in ("room_updates", "room_snapshots"):
        run_sql(
            f"""
            ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
            ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON {table}
                USING (tenant_id = app_current_tenant())
                WITH CHECK (tenant_id = app_current_tenant());
            """
        )


def downgrade() -> None:
    run_sql("DROP TABLE room_snapshots, room_updates; DROP FUNCTION app_current_tenant();")
