"""retention and erasure: why a recording was deleted, the erasure audit, job leases

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = sa.DateTime()  # naive UTC, as b24tel.db.base.UTCDateTime stores it


def upgrade() -> None:
    with op.batch_alter_table("recording_files") as batch:
        batch.add_column(sa.Column("deleted_reason", sa.String(length=10), nullable=True))
    op.execute(
        "UPDATE recording_files SET deleted_reason = 'replaced' WHERE deleted_at IS NOT NULL"
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number_sha256", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_number_sha256"), "erasures", ["number_sha256"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    op.drop_index(op.f("ix_erasures_number_sha256"), table_name="erasures")
    op.drop_table("erasures")
    with op.batch_alter_table("recording_files") as batch:
        batch.drop_column("deleted_reason")
