"""bridge mode: calls the bridge registered itself and the writes waiting for the portal

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bridge_calls",
        sa.Column("local_id", sa.String(length=255), nullable=False),
        sa.Column("portal_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("local_id", name=op.f("pk_bridge_calls")),
    )
    op.create_index(op.f("ix_bridge_calls_portal_id"), "bridge_calls", ["portal_id"])
    op.create_table(
        "bridge_queue",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_queue")),
    )
    op.create_index(op.f("ix_bridge_queue_call_id"), "bridge_queue", ["call_id"])
    op.create_index(op.f("ix_bridge_queue_state"), "bridge_queue", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_queue_state"), table_name="bridge_queue")
    op.drop_index(op.f("ix_bridge_queue_call_id"), table_name="bridge_queue")
    op.drop_table("bridge_queue")
    op.drop_index(op.f("ix_bridge_calls_portal_id"), table_name="bridge_calls")
    op.drop_table("bridge_calls")
