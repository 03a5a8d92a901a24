"""Dojos: dojos, invites, participants, code snapshots, chat, outbox; forced RLS.

Revision ID: 0001
Revises:
"""

from platform_api.kernel.migrations import (
    create_outbox,
    create_tenant_function,
    drop_tenant_function,
    enable_tenant_rls,
    run_sql,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "dojos",
    "dojo_invites",
    "dojo_participants",
    "dojo_code_snapshots",
    "dojo_chat_messages",
)


def upgrade() -> None:
    create_tenant_function()
    run_sql(
        """
        CREATE TABLE dojos (
            dojo_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            creator_id uuid NOT NULL,
            name varchar(100) NOT NULL,
            description text NOT NULL DEFAULT '',
            language varchar(50) NOT NULL,
            format varchar(20) NOT NULL CHECK (format IN ('randori', 'prepared', 'free')),
            initial_code text NOT NULL DEFAULT '',
            planned_minutes int NOT NULL CHECK (planned_minutes BETWEEN 5 AND 1440),
            rotation_seconds int NOT NULL CHECK (rotation_seconds BETWEEN 5 AND 3600),
            max_participants int NOT NULL CHECK (max_participants BETWEEN 2 AND 200),
            scheduled_start_time timestamptz,
            status varchar(20) NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'active', 'ended', 'archived')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            ended_at timestamptz,
            archived_at timestamptz,
            version int NOT NULL DEFAULT 1,
            -- The rotation timer, server-authoritative: remaining time is computed from these.
            driver_id uuid,
            rotation_order uuid[] NOT NULL DEFAULT '{}',
            timer_state varchar(10) NOT NULL DEFAULT 'stopped'
                CHECK (timer_state IN ('stopped', 'running', 'paused')),
            turn_due_at timestamptz,
            turn_remaining_ms int,
            turn int NOT NULL DEFAULT 0,
            next_snapshot_at timestamptz,
            -- Set with every change the room must see; cleared once roles and timer are pushed.
            room_sync_due boolean NOT NULL DEFAULT false,
            room_sync_retry_at timestamptz,  -- back-off after a failed push
            UNIQUE (tenant_id, dojo_id)
        );
        CREATE INDEX idx_dojos_tenant_created ON dojos (tenant_id, created_at DESC, dojo_id DESC);
        CREATE INDEX idx_dojos_tenant_status ON dojos (tenant_id, status);
        CREATE INDEX idx_dojos_turn_due ON dojos (turn_due_at) WHERE timer_state = 'running';
        CREATE INDEX idx_dojos_snapshot_due ON dojos (next_snapshot_at) WHERE status = 'active';
        CREATE INDEX idx_dojos_room_sync ON dojos (dojo_id) WHERE room_sync_due;

        CREATE TABLE dojo_invites (
            invite_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            dojo_id uuid NOT NULL,
            code_hash bytea NOT NULL UNIQUE,
            role varchar(20) NOT NULL CHECK (role IN ('navigator', 'observer')),
            created_by uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz,
            FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojos (tenant_id, dojo_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_dojo_invites_dojo ON dojo_invites (dojo_id, created_at DESC);

        CREATE TABLE dojo_participants (
            tenant_id uuid NOT NULL,
            dojo_id uuid NOT NULL,
            user_id uuid NOT NULL,
            display_name varchar(100) NOT NULL,
            role varchar(20) NOT NULL CHECK (role IN ('facilitator', 'navigator', 'observer')),
            status varchar(10) NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'left', 'removed')),
            invite_id uuid REFERENCES dojo_invites (invite_id) ON DELETE SET NULL,
            join_time timestamptz NOT NULL DEFAULT now(),
            leave_time timestamptz,
            last_active_time timestamptz,
            PRIMARY KEY (dojo_id, user_id),
            FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojos (tenant_id, dojo_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_dojo_participants_user ON dojo_participants (tenant_id, user_id);

        CREATE TABLE dojo_code_snapshots (
            snapshot_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            dojo_id uuid NOT NULL,
            timestamp timestamptz NOT NULL DEFAULT clock_timestamp(),
            code text NOT NULL,
            user_id uuid,  -- who asked for it; NULL for the scheduler's
            driver_id uuid,  -- who drove since the previous snapshot (attribution)
            reason varchar(20) NOT NULL
                CHECK (reason IN ('start', 'rotation', 'manual', 'periodic', 'restore', 'end')),
            turn int NOT NULL,
            object_key text NOT NULL,
            FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojos (tenant_id, dojo_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_dojo_snapshots_dojo
            ON dojo_code_snapshots (dojo_id, timestamp DESC, snapshot_id DESC);

        CREATE TABLE dojo_chat_messages (
            message_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            dojo_id uuid NOT NULL,
            user_id uuid NOT NULL,
            display_name varchar(100) NOT NULL,
            message text NOT NULL,
            timestamp timestamptz NOT NULL DEFAULT clock_timestamp(),
            FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojos (tenant_id, dojo_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_dojo_chat_dojo ON dojo_chat_messages (dojo_id, timestamp DESC, message_id DESC);
        """
    )
    enable_tenant_rls(*TENANT_TABLES)
    create_outbox()  # the transactional outbox, with its tenant and ``outbox_relay`` policies
    # The worker connects as the owner (the role running this migration): besides relaying
    # the outbox, it finds due dojos (ids only; the work itself runs in a tenant transaction
    # as the application role). The request-facing role gets neither.
    run_sql("CREATE POLICY scheduler ON dojos FOR SELECT TO CURRENT_USER USING (true);")


def downgrade() -> None:
    run_sql(
        """
        DROP TABLE outbox, dojo_chat_messages, dojo_code_snapshots, dojo_participants,
            dojo_invites, dojos;
        """
    )
    drop_tenant_function()
