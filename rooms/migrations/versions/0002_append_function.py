"""Collab: one round trip per group commit — a function that scopes the transaction to the
tenant and appends the batch, called in autocommit mode.

It runs with the caller's rights (SECURITY INVOKER), so the forced row-level security of
``room_updates`` still checks every row against the tenant it has just set.

Revision ID: 0002
Revises: 0001
"""

from platform_api.kernel.migrations import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        CREATE FUNCTION append_room_updates(p_tenant uuid, p_rooms text[], p_updates bytea[])
        RETURNS SETOF bigint
        LANGUAGE plpgsql SECURITY INVOKER
        AS $$
        BEGIN
            PERFORM set_config('app.tenant_id', p_tenant::text, true);
            RETURN QUERY
                INSERT INTO room_updates (tenant_id, room, update)
                SELECT p_tenant, r, u FROM unnest(p_rooms, p_updates) AS t(r, u)
                RETURNING seq;
        END
        $$;
        """
    )


def downgrade() -> None:
    run_sql("DROP FUNCTION append_room_updates(uuid, text[], bytea[]);")
