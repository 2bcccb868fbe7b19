"""per-process caches of the hot path: a version per group of tables, bumped by triggers in
the writing transaction (b24tel/db/cache.py)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# group → tables (b24tel.db.cache.GROUPS, as of this revision)
GROUPS = {
    "users": ("users",),
    "lines": ("tel_external_lines",),
    "bindings": ("event_bindings", "apps", "outgoing_webhooks"),
}
BUMP = "UPDATE cache_versions SET version = version + 1 WHERE name = '{group}'"
POSTGRES_FUNCTION = """
CREATE FUNCTION b24tel_cache_bump() RETURNS trigger AS $$
BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def _triggers() -> list[tuple[str, str, str]]:
    return [
        (f"cache_{table}_{op_name.lower()}", table, group)
        for group, tables in GROUPS.items()
        for table in tables
        for op_name in ("INSERT", "UPDATE", "DELETE")
    ]


def upgrade() -> None:
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.bulk_insert(
        sa.table("cache_versions", sa.column("name"), sa.column("version")),
        [{"name": group, "version": 0} for group in GROUPS],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        # per row: a statement that changes nothing (INSERT … ON CONFLICT DO NOTHING on a
        # line another request has just made) neither drops the copies nor takes the
        # version's row lock to its commit (concurrent registers queued on it); TRUNCATE
        # has no rows, a statement trigger of its own
        for group, tables in GROUPS.items():
            for table in tables:
                for suffix, when, each in (
                    ("rows", "INSERT OR UPDATE OR DELETE", "ROW"),
                    ("truncate", "TRUNCATE", "STATEMENT"),
                ):
                    op.execute(
                        f'CREATE TRIGGER cache_{table}_{suffix} AFTER {when} ON "{table}"'
                        f" FOR EACH {each} EXECUTE FUNCTION b24tel_cache_bump('{group}')"
                    )
        return
    for name, table, group in _triggers():
        event = name.rsplit("_", 1)[1].upper()
        op.execute(
            f'CREATE TRIGGER {name} AFTER {event} ON "{table}"'
            f" BEGIN {BUMP.format(group=group)}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for tables in GROUPS.values():
            for table in tables:
                for suffix in ("rows", "truncate"):
                    op.execute(f'DROP TRIGGER IF EXISTS cache_{table}_{suffix} ON "{table}"')
        op.execute("DROP FUNCTION IF EXISTS b24tel_cache_bump()")
    else:
        for name, _table, _group in _triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("cache_versions")
