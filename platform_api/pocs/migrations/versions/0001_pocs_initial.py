"""POCs: pocs, poc_tags, poc_frameworks and the outbox; forced RLS.

Revision ID: 0001
Revises:

Differences from the design brief: every table carries ``tenant_id`` (so RLS applies to it
directly), tags and frameworks keep their order (``position``), a POC has a ``status``, a
``visibility`` (private | tenant) instead of ``is_public``, a ``version`` (ETag and event
order), started/finished dates, and ``repository_url`` may be empty (an idea has no repo yet).
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

TENANT_TABLES = ("pocs", "poc_tags", "poc_frameworks")
TRASH_RETENTION = "30 days"


def upgrade() -> None:
    create_tenant_function()
    run_sql(
        """
        CREATE TABLE pocs (
            poc_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            name varchar(100) NOT NULL,
            description text CHECK (length(description) <= 20000),
            repository_url varchar(255),
            language varchar(50),
            status varchar(20) NOT NULL DEFAULT 'idea'
                CHECK (status IN ('idea', 'in_progress', 'done', 'abandoned')),
            visibility varchar(10) NOT NULL DEFAULT 'private'
                CHECK (visibility IN ('private', 'tenant')),
            started_on date,
            finished_on date,
            thumbnail_url varchar(255),
            version integer NOT NULL DEFAULT 1,
            -- clock_timestamp(): rows of one bulk import keep the file's order.
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            deleted_at timestamptz,
            UNIQUE (tenant_id, poc_id),
            CHECK (finished_on IS NULL OR started_on IS NULL OR finished_on >= started_on)
        );
        CREATE INDEX idx_pocs_tenant_created
            ON pocs (tenant_id, created_at DESC, poc_id DESC) WHERE deleted_at IS NULL;
        CREATE INDEX idx_pocs_tenant_user_created
            ON pocs (tenant_id, user_id, created_at DESC, poc_id DESC) WHERE deleted_at IS NULL;
        CREATE INDEX idx_pocs_tenant_name
            ON pocs (tenant_id, lower(name), poc_id) WHERE deleted_at IS NULL;
        CREATE INDEX idx_pocs_tenant_language ON pocs (tenant_id, language);
        CREATE INDEX idx_pocs_deleted_at ON pocs (deleted_at) WHERE deleted_at IS NOT NULL;

        CREATE TABLE poc_tags (
            tenant_id uuid NOT NULL,
            poc_id uuid NOT NULL,
            tag varchar(50) NOT NULL,
            position smallint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (poc_id, tag),
            FOREIGN KEY (tenant_id, poc_id) REFERENCES pocs (tenant_id, poc_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_poc_tags_tag ON poc_tags (tenant_id, tag);

        CREATE TABLE poc_frameworks (
            tenant_id uuid NOT NULL,
            poc_id uuid NOT NULL,
            framework varchar(50) NOT NULL,
            position smallint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (poc_id, framework),
            FOREIGN KEY (tenant_id, poc_id) REFERENCES pocs (tenant_id, poc_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_poc_frameworks_framework ON poc_frameworks (tenant_id, framework);
        """
    )
    enable_tenant_rls(*TENANT_TABLES)
    # The purge job runs as the owner, across tenants, and may only see what it must purge:
    # POCs in the trash for longer than the retention period.
    run_sql(
        f"""
        CREATE POLICY purge_expired ON pocs TO CURRENT_USER
            USING (deleted_at IS NOT NULL AND deleted_at < now() - interval '{TRASH_RETENTION}');
        """
    )
    create_outbox()


def downgrade() -> None:
    run_sql("DROP TABLE outbox, poc_frameworks, poc_tags, pocs;")
    drop_tenant_function()
