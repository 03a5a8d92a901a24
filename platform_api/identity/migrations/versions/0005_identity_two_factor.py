"""Identity: two-step verification (an authenticator app's codes, recovery codes, the
log-ins waiting for a code), under tenant RLS.

Revision ID: 0005
Revises: 0004
"""

from platform_api.kernel.migrations import enable_tenant_rls, run_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        -- The TOTP secret, encrypted (IDENTITY_TWO_FACTOR_KEYS); on once confirmed; the last
        -- time step a code was accepted for (a code is good once).
        ALTER TABLE users
            ADD COLUMN totp_secret bytea,
            ADD COLUMN totp_enabled_at timestamptz,
            ADD COLUMN totp_last_step bigint;

        -- One-time recovery codes, kept as keyed hashes; a used one is deleted.
        CREATE TABLE recovery_codes (
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            code_hash bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, user_id, code_hash),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
        );

        -- A log-in whose password was right, waiting for its code.
        CREATE TABLE two_factor_challenges (
            challenge_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            password_changed_at timestamptz NOT NULL,  -- the user's, when the password was checked
            expires_at timestamptz NOT NULL,
            failures integer NOT NULL DEFAULT 0,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
        );
        CREATE INDEX idx_two_factor_challenges_user ON two_factor_challenges (tenant_id, user_id);
        """
    )
    enable_tenant_rls("recovery_codes", "two_factor_challenges")


def downgrade() -> None:
    run_sql(
        """
        DROP TABLE two_factor_challenges;
        DROP TABLE recovery_codes;
        ALTER TABLE users
            DROP COLUMN totp_last_step,
            DROP COLUMN totp_enabled_at,
            DROP COLUMN totp_secret;
        """
    )
