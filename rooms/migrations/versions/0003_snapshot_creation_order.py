"""Collab: snapshots numbered in the order they were made — a room's latest is its last made.

Seqs are taken at insert and committed in any order, so a compaction may merge an update
whose seq is below that of the snapshot before it: the new snapshot, which holds everything,
has the lower ``seq_upto``. Choosing the latest by ``seq_upto`` picked the older one and lost
that update; ``id`` (an identity, taken as each snapshot is inserted, one compaction of a room
at a time) orders them as they were made, and its index finds a room's latest.

Existing snapshots are numbered by the transaction that inserted them (``xmin``, taken at
the insert, which a compaction makes while it holds the room's lock: in order for a room),
then by ``created_at``. Not by ``created_at`` alone: that is when the compaction's
transaction began, before it waited for the lock, so a compaction that stalled there is
dated before the one it came after. Not in table order either, which concurrent inserts from
several connections leave unordered. (Transaction ids wrap: ``age`` orders them right for
rows younger than two billion transactions, which covers every database this runs on.) The
migration role owns the table but row-level security is forced on it, so it lifts that for
the renumbering, in this same transaction. The table is locked while it runs (room loads
wait): on a large deployment, run it outside busy hours.

Revision ID: 0003
Revises: 0002
"""

from platform_api.kernel.migrations import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        ALTER TABLE room_snapshots NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE room_snapshots ADD COLUMN id bigint;
        UPDATE room_snapshots s SET id = n.id
        FROM (
            SELECT tenant_id, room, seq_upto,
                   row_number() OVER (ORDER BY age(xmin) DESC, created_at, seq_upto) AS id
            FROM room_snapshots
        ) n
        WHERE (s.tenant_id, s.room, s.seq_upto) = (n.tenant_id, n.room, n.seq_upto);
        ALTER TABLE room_snapshots
            ALTER COLUMN id SET NOT NULL,
            ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
        SELECT setval(pg_get_serial_sequence('room_snapshots', 'id'), max(id))
        FROM room_snapshots;
        ALTER TABLE room_snapshots FORCE ROW LEVEL SECURITY;
        CREATE UNIQUE INDEX idx_room_snapshots_latest ON room_snapshots (tenant_id, room, id);
        """
    )


def downgrade() -> None:
    run_sql(
        """
        DROP INDEX idx_room_snapshots_latest;
        ALTER TABLE room_snapshots DROP COLUMN id;
        """
    )
