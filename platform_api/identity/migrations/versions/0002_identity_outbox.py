"""Identity: the transactional outbox, for the events that ask other services to erase a
deleted organization or account.

Revision ID: 0002
Revises: 0001
"""

from platform_api.kernel.migrations import create_outbox, run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox()


def downgrade() -> None:
    run_sql("DROP TABLE outbox;")
