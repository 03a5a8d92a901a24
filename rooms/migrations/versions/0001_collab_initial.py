"""Collab: room update log and snapshots, tenant-scoped with forced RLS.

Revision ID: 0001
Revises:
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
    enable_tenant_rls("room_updates", "room_snapshots")


def downgrade() -> None:
    run_sql("DROP TABLE room_snapshots, room_updates;")
    drop_tenant_function()
