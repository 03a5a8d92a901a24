"""Identity: tenants, users, refresh tokens, invitations, login directory; forced RLS.

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

TENANT_TABLES = ("tenants", "users", "refresh_tokens", "invitations")


def upgrade() -> None:
    create_tenant_function()
    run_sql(
        """
        CREATE TABLE tenants (
            tenant_id uuid PRIMARY KEY,
            name varchar(100) NOT NULL,
            slug varchar(63) NOT NULL UNIQUE,
            subscription_plan varchar(50) NOT NULL DEFAULT 'free',
            status varchar(20) NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'suspended', 'closed')),
            settings jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX idx_tenants_status ON tenants (status);

        CREATE TABLE users (
            user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
            email varchar(254) NOT NULL,
            password_hash varchar(255) NOT NULL,
            full_name varchar(100) NOT NULL,
            role varchar(20) NOT NULL DEFAULT 'member'
                CHECK (role IN ('owner', 'admin', 'member')),
            status varchar(20) NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'deactivated')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            last_login_at timestamptz,
            password_changed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, email),
            UNIQUE (tenant_id, user_id)
        );
        CREATE INDEX idx_users_tenant_created ON users (tenant_id, created_at DESC, user_id DESC);

        CREATE TABLE refresh_tokens (
            token_id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            family_id uuid NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            revoked_at timestamptz,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
        CREATE INDEX idx_refresh_tokens_user ON refresh_tokens (user_id);

        CREATE TABLE invitations (
            invitation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
            email varchar(254) NOT NULL,
            role varchar(20) NOT NULL CHECK (role IN ('admin', 'member')),
            token_hash bytea NOT NULL UNIQUE,
            invited_by uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            accepted_at timestamptz,
            revoked_at timestamptz
        );
        CREATE INDEX idx_invitations_tenant_created
            ON invitations (tenant_id, created_at DESC, invitation_id DESC);

        -- Login starts from an e-mail address, before any tenant is known. This directory maps a
        -- keyed digest of the address to the tenants where it has an account, and holds nothing
        -- else; it is the one table without tenant RLS, by design.
        CREATE TABLE login_directory (
            email_digest bytea NOT NULL,
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            PRIMARY KEY (email_digest, tenant_id),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
        );
        """
    )
    enable_tenant_rls(*TENANT_TABLES)


def downgrade() -> None:
    run_sql("DROP TABLE login_directory, invitations, refresh_tokens, users, tenants;")
    drop_tenant_function()
