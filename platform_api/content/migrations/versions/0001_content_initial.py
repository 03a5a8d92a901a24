"""Content: content_requests and content_request_pocs (the POC snapshot); forced RLS.

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

TENANT_TABLES = ("content_requests", "content_request_pocs")


def upgrade() -> None:
    create_tenant_function()
    run_sql(
        """
        CREATE TABLE content_requests (
            request_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            type varchar(20) NOT NULL CHECK (type IN ('report', 'video')),
            status varchar(20) NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
            title varchar(200) NOT NULL,
            from_date date NOT NULL,
            to_date date NOT NULL CHECK (to_date >= from_date),
            output_language varchar(10) NOT NULL CHECK (output_language IN ('pt-BR', 'en')),
            parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
            progress int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
            error_message text,
            result_key varchar(512),
            result_bytes bigint,
            attempts int NOT NULL DEFAULT 0,
            -- The worker holding the job; a finish by any other (a presumed-dead one) is refused.
            lease_token uuid,
            idempotency_key varchar(200),
            request_hash varchar(64),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            completed_at timestamptz,
            UNIQUE (tenant_id, request_id),
            UNIQUE (tenant_id, user_id, idempotency_key)
        );
        CREATE INDEX idx_content_requests_owner_created
            ON content_requests (tenant_id, user_id, created_at DESC, request_id DESC);
        CREATE INDEX idx_content_requests_status ON content_requests (status);

        CREATE TABLE content_request_pocs (
            request_id uuid NOT NULL,
            tenant_id uuid NOT NULL,
            poc_id uuid NOT NULL,
            sequence_order int NOT NULL,
            duration_seconds numeric(6, 2),
            snapshot jsonb NOT NULL,
            PRIMARY KEY (request_id, poc_id),
            UNIQUE (request_id, sequence_order),
            FOREIGN KEY (tenant_id, request_id)
                REFERENCES content_requests (tenant_id, request_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_content_request_pocs_poc ON content_request_pocs (poc_id);
        """
    )
    enable_tenant_rls(*TENANT_TABLES)


def downgrade() -> None:
    run_sql("DROP TABLE content_request_pocs, content_requests;")
    drop_tenant_function()
