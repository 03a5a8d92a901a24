"""Search: dead letters, the events the consumer gave up on.

Revision ID: 0002
Revises: 0001

An event lands here when its payload cannot be used, or when applying it failed
``SEARCH_CONSUMER_MAX_ATTEMPTS`` times while the index and this database were up; it is
acknowledged on the bus so that it stops blocking the events behind it.
``python -m platform_api.search.dead_letters`` lists and replays them.
"""

from platform_api.kernel.migrations import enable_tenant_rls, run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(
        """
        CREATE TABLE dead_letters (
            tenant_id uuid NOT NULL,
            event_id uuid NOT NULL,
            type varchar(100) NOT NULL,
            aggregate_id uuid NOT NULL,
            version bigint NOT NULL,
            attempts integer NOT NULL,
            reason text NOT NULL,
            event jsonb NOT NULL,
            parked_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, event_id)
        );
        """
    )
    enable_tenant_rls("dead_letters")


def downgrade() -> None:
    run_sql("DROP TABLE dead_letters;")
