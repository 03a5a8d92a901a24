"""Pocs: the name sort key folds every accented Latin letter of Latin-1, Latin Extended-A
and the Romanian comma letters (š, ł, ş, ș, ...), and ß, æ, œ as two letters.

Revision ID: 0004
Revises: 0003
"""

from platform_api.kernel.migrations import run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Letters and their base letters, upper case too (lower() leaves non-ASCII letters alone
# under the C locale); letters that become two are replaced after.
ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåçèéêëìíîïðñòóôõöøùúûüýþÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁłŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžȘșȚț"
BASE = "aaaaaaceeeeiiiidnoooooouuuuytaaaaaaceeeeiiiidnoooooouuuuytyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiijjkkllllllllllnnnnnnoooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzsstt"
ACCENTED_0003 = "àáâãäåāăąçćčďèéêëēĕėęěìíîïĩīĭįñńňòóôõöøōŏőùúûüũūŭůűųýÿźżžÀÁÂÃÄÅĀĂĄÇĆČĎÈÉÊËĒĔĖĘĚÌÍÎÏĨĪĬĮÑŃŇÒÓÔÕÖØŌŎŐÙÚÛÜŨŪŬŮŰŲÝŸŹŻŽ"
BASE_0003 = "aaaaaaaaacccdeeeeeeeeeiiiiiiiinnnooooooooouuuuuuuuuuyyzzzaaaaaaaaacccdeeeeeeeeeiiiiiiiinnnooooooooouuuuuuuuuuyyzzz"
TWO_LETTERS = (("ß", "ss"), ("æ", "ae"), ("Æ", "ae"), ("œ", "oe"), ("Œ", "oe"))


def _key(accented: str, base: str, pairs: tuple[tuple[str, str], ...]) -> str:
    expression = f"translate(lower(name), '{accented}', '{base}')"
    for letter, letters in pairs:
        expression = f"replace({expression}, '{letter}', '{letters}')"
    return expression


def _define(expression: str) -> None:
    run_sql(
        f"""CREATE OR REPLACE FUNCTION poc_name_key(name text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT {expression} $$;
            REINDEX INDEX idx_pocs_tenant_name_key;"""
    )


def upgrade() -> None:
    _define(_key(ACCENTED, BASE, TWO_LETTERS))


def downgrade() -> None:  # 0003's key
    _define(_key(ACCENTED_0003, BASE_0003, ()))
