"""Pocs: outbox rows may wait before they are relayed (``deliver_after``, read by
``platform_api.kernel.outbox``).

Revision ID: 0002
Revises: 0001
"""

from platform_api.kernel.migrations import add_outbox_delivery, drop_outbox_delivery

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_delivery()


def downgrade() -> None:
    drop_outbox_delivery()
