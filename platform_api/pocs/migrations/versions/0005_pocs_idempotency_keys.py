"""Pocs: remembered answers to ``Idempotency-Key`` (creating a POC, importing a file).

Revision ID: 0005
Revises: 0004
"""

from platform_api.kernel.migrations import create_idempotency_keys, drop_idempotency_keys

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_keys("24 hours")


def downgrade() -> None:
    drop_idempotency_keys()
