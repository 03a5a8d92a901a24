"""Identity: password resets (a one-time link sent by e-mail), under tenant RLS.

Revision ID: 0004
Revises: 0003
"""

from platform_api.kernel.migrations import enable_tenant_rls, run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        CREATE TABLE password_resets (
            reset_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_password_resets_user ON password_resets (tenant_id, user_id);
        """
    )
    enable_tenant_rls("password_resets")


def downgrade() -> None:
    run_sql("DROP TABLE password_resets;")
