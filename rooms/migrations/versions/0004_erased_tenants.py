"""Collab: organizations erased (LGPD). Their rooms' updates and snapshots are deleted, and
nothing may write them again: not a node still holding a room in memory, not a compaction
that read the room just before.

Every write of a tenant's rooms (the append function, a compaction) first takes the
tenant's erasure lock shared, then checks ``erased_tenants``; the erasure takes it
exclusively, so it waits for the writes under way, and every write after it sees the mark
and fails with SQLSTATE ``MB410`` (``rooms.TenantErased``). Shared holders do not wait for
one another: appends pay one lock and one index lookup per group commit.

The table holds ids only and no tenant's data: no RLS.

Revision ID: 0004
Revises: 0003
"""

from platform_api.kernel.migrations import run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPEND = """
CREATE OR REPLACE FUNCTION append_room_updates(p_tenant uuid, p_rooms text[], p_updates bytea[])
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    {guard}
    RETURN QUERY
        INSERT INTO room_updates (tenant_id, room, update)
        SELECT p_tenant, r, u FROM unnest(p_rooms, p_updates) AS t(r, u)
        RETURNING seq;
END
$$;
"""

_GUARD = "PERFORM collab_tenant_writable(p_tenant);"


def upgrade() -> None:
    run_sql(
        """
        CREATE TABLE erased_tenants (
            tenant_id uuid PRIMARY KEY,
            erased_at timestamptz NOT NULL DEFAULT now()
        );

        -- Hold the tenant's erasure lock (shared) until the transaction ends, and refuse an
        -- erased tenant.
        CREATE FUNCTION collab_tenant_writable(p_tenant uuid) RETURNS void
        LANGUAGE plpgsql SECURITY INVOKER
        AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(
                hashtextextended('collab-erasure:' || p_tenant::text, 0));
            IF EXISTS (SELECT 1 FROM erased_tenants WHERE tenant_id = p_tenant) THEN
                RAISE EXCEPTION 'organization % was erased', p_tenant USING ERRCODE = 'MB410';
            END IF;
        END
        $$;
        """
    )
    run_sql(_APPEND.format(guard=_GUARD))


def downgrade() -> None:
    run_sql(_APPEND.format(guard=""))
    run_sql("DROP FUNCTION collab_tenant_writable(uuid); DROP TABLE erased_tenants;")
