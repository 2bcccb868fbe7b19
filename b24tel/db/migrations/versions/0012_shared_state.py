"""operating time shared by every instance (PostgreSQL); when a RECORD_URL fetch began

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operating_time",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=255), nullable=False),
        sa.Column("bucket", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", "method", "bucket", name=op.f("pk_operating_time")),
    )
    with op.batch_alter_table("tel_statistics") as batch:
        batch.add_column(sa.Column("record_fetch_started_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tel_statistics") as batch:
        batch.drop_column("record_fetch_started_at")
    op.drop_table("operating_time")
