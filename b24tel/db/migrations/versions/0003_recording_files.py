"""recording files

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("folder", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("codec", sa.String(length=20), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("bit_rate", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_url", sa.String(length=2000), nullable=True),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_recording_files_storage_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_files_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recording_files_folder"), ["folder"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recording_files_replaced_at"), ["replaced_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_files_replaced_at"))
        batch_op.drop_index(batch_op.f("ix_recording_files_folder"))
        batch_op.drop_index(batch_op.f("ix_recording_files_call_id"))

    op.drop_table("recording_files")
