"""the integrators' toolkit: the request journal and fault rules

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "fault_rules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("method", sa.String(length=255), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("param", sa.String(length=255), nullable=False),
        _text("value"),
        sa.Column("effect", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("status", ID, nullable=False),
        _text("description"),
        sa.Column("latency_min_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("seed", ID, nullable=True),
        sa.Column("times", ID, nullable=True),
        sa.Column("after", ID, nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("matched", ID, nullable=False),
        sa.Column("fired", ID, nullable=False),
        _text("source"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_rules")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "journal",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=255), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("http_method", sa.String(length=10), nullable=False),
        _text("url"),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("status", ID, nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        _text("error_description", nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("bytes_in", ID, nullable=False),
        sa.Column("bytes_out", ID, nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        _text("user_agent"),
        _text("fault", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_journal_at", "journal", ["at"])
    op.create_index("ix_journal_caller", "journal", ["caller"])
    op.create_index("ix_journal_method", "journal", ["method"])


def downgrade() -> None:
    op.drop_table("journal")
    op.drop_table("fault_rules")
