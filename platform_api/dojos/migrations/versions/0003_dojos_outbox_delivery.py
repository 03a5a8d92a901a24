"""Dojos: outbox rows may wait before they are relayed (``deliver_after``, read by
``platform_api.kernel.outbox``).

Revision ID: 0003
Revises: 0002
"""

from platform_api.kernel.migrations import add_outbox_delivery, drop_outbox_delivery

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_delivery()


def downgrade() -> None:
    drop_outbox_delivery()
