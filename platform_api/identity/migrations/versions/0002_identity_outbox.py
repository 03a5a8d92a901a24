"""Identity: the transactional outbox, for the events that ask other services to erase a
deleted organization or account.

Revision ID: 0002
Revises: 0001
"""

from platform_api.kernel.migrations import add_outbox_delivery, create_outbox, run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox()
    add_outbox_delivery()  # each erasure is sent again once older access tokens expire


def downgrade() -> None:
    run_sql("DROP TABLE outbox;")
