"""the web interface: passwords, sessions, sign-in links, failed sign-ins; a normalised
phone column on the call statistic; full-text search in transcripts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from b24tel import phones

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime()  # naive UTC, as b24tel.db.base.UTCDateTime stores it

# SQLite: an FTS5 index over the transcript lines, kept in step by triggers
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE tel_transcript_fts USING fts5("
    "message, content='tel_transcript_lines', content_rowid='id')",
    "CREATE TRIGGER tel_transcript_fts_ai AFTER INSERT ON tel_transcript_lines BEGIN "
    "INSERT INTO tel_transcript_fts(rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER tel_transcript_fts_ad AFTER DELETE ON tel_transcript_lines BEGIN "
    "INSERT INTO tel_transcript_fts(tel_transcript_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER tel_transcript_fts_au AFTER UPDATE ON tel_transcript_lines BEGIN "
    "INSERT INTO tel_transcript_fts(tel_transcript_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); "
    "INSERT INTO tel_transcript_fts(rowid, message) VALUES (new.id, new.message); END",
    "INSERT INTO tel_transcript_fts(tel_transcript_fts) VALUES ('rebuild')",
]
POSTGRES_FTS = (
    "CREATE INDEX ix_tel_transcript_lines_fts ON tel_transcript_lines "
    "USING gin (to_tsvector('simple', message))"
)


def upgrade() -> None:
    op.create_table(
        "web_passwords",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_web_passwords_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_web_passwords"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_web_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "web_login_links",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_web_login_links_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_login_links"),
        sa.UniqueConstraint("token_hash", name="uq_web_login_links_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "web_login_failures",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_login_failures"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_web_login_failures_login_at", "web_login_failures", ["login", "at"])
    with op.batch_alter_table("tel_statistics") as batch:
        batch.add_column(sa.Column("phone_normalized", sa.String(length=50), nullable=True))
        batch.create_index(
            "ix_tel_statistics_phone_normalized", ["phone_normalized", "call_start_date"]
        )
    _backfill_phones()
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(POSTGRES_FTS)


def _backfill_phones() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, phone_number FROM tel_statistics")).fetchall()
    update = sa.text("UPDATE tel_statistics SET phone_normalized = :key WHERE id = :id")
    for row_id, number in rows:
        key = phones.normalize(number or "")
        if key:
            bind.execute(update, {"key": key[:50], "id": row_id})


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS tel_transcript_fts_{name}")
        op.execute("DROP TABLE IF EXISTS tel_transcript_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_tel_transcript_lines_fts")
    with op.batch_alter_table("tel_statistics") as batch:
        batch.drop_index("ix_tel_statistics_phone_normalized")
        batch.drop_column("phone_normalized")
    op.drop_index("ix_web_login_failures_login_at", table_name="web_login_failures")
    for table in ("web_login_failures", "web_login_links", "web_sessions", "web_passwords"):
        op.drop_table(table)
