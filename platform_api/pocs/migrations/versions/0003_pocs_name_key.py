"""Pocs: names sort among their letters whatever their accents ("Árvore" after "abacate",
not after "Zebra"), with the same key in the list's order, its cursors and its index.

Revision ID: 0003
Revises: 0002
"""

from platform_api.kernel.migrations import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Accented Latin letters and their base letters (lower and upper case: lower() leaves
# non-ASCII letters alone under the C locale).
ACCENTED = "àáâãäåāăąçćčďèéêëēĕėęěìíîïĩīĭįñńňòóôõöøōŏőùúûüũūŭůűųýÿźżžÀÁÂÃÄÅĀĂĄÇĆČĎÈÉÊËĒĔĖĘĚÌÍÎÏĨĪĬĮÑŃŇÒÓÔÕÖØŌŎŐÙÚÛÜŨŪŬŮŰŲÝŸŹŻŽ"
BASE = "aaaaaaaaacccdeeeeeeeeeiiiiiiiinnnooooooooouuuuuuuuuuyyzzzaaaaaaaaacccdeeeeeeeeeiiiiiiiinnnooooooooouuuuuuuuuuyyzzz"


def upgrade() -> None:
    run_sql(
        f"""CREATE FUNCTION poc_name_key(name text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT translate(lower(name), '{ACCENTED}', '{BASE}') $$"""
    )
    run_sql(
        """CREATE INDEX idx_pocs_tenant_name_key
           ON pocs (tenant_id, poc_name_key(name), poc_id) WHERE deleted_at IS NULL"""
    )
    run_sql("DROP INDEX idx_pocs_tenant_name")


def downgrade() -> None:
    run_sql(
        """CREATE INDEX idx_pocs_tenant_name
           ON pocs (tenant_id, lower(name), poc_id) WHERE deleted_at IS NULL"""
    )
    run_sql("DROP INDEX idx_pocs_tenant_name_key")
    run_sql("DROP FUNCTION poc_name_key(text)")
