"""bridge mode: the upload links the bridge hands out in place of the portal's

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_uploads",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("portal_url", sa.Text(), nullable=False),
        sa.Column("field_name", sa.String(length=100), nullable=False),
        sa.Column("binding", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_bridge_uploads")),
    )
    op.create_index(op.f("ix_bridge_uploads_expires_at"), "bridge_uploads", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_uploads_expires_at"), table_name="bridge_uploads")
    op.drop_table("bridge_uploads")
