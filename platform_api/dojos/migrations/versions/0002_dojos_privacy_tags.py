"""Dojos: privacy and tags (the design brief's ``is_private``; tags as POCs have them).

Revision ID: 0002
Revises: 0001

``is_private`` defaults to false, unlike the brief's table: every dojo created before this
revision was visible to the whole organization, and stays so.
"""

from platform_api.kernel.migrations import run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        ALTER TABLE dojos
            ADD COLUMN is_private boolean NOT NULL DEFAULT false,
            ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
                CHECK (cardinality(tags) <= 20);
        """
    )


def downgrade() -> None:
    run_sql("ALTER TABLE dojos DROP COLUMN tags, DROP COLUMN is_private;")
