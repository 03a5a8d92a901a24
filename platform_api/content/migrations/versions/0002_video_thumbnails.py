"""Content: the key of a video's thumbnail (the title card as a JPEG), beside its file.

Revision ID: 0002
Revises: 0001
"""

from platform_api.kernel.migrations import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for reports, and for videos made before thumbnails were kept.
    run_sql("ALTER TABLE content_requests ADD COLUMN thumbnail_key varchar(512);")


def downgrade() -> None:
    run_sql("ALTER TABLE content_requests DROP COLUMN thumbnail_key;")
