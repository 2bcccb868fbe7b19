"""indexes for phone and period queries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_multifields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_multifields_lookup"))
        batch_op.create_index(
            "ix_crm_multifields_lookup",
            ["type_id", "normalized", "entity_type", "entity_id"],
            unique=False,
        )

    with op.batch_alter_table("tel_statistics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_statistics_phone_number"))
        batch_op.drop_index(batch_op.f("ix_tel_statistics_portal_user_id"))
        batch_op.create_index(
            "ix_tel_statistics_phone_start", ["phone_number", "call_start_date"], unique=False
        )
        batch_op.create_index(
            "ix_tel_statistics_user_start", ["portal_user_id", "call_start_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tel_statistics", schema=None) as batch_op:
        batch_op.drop_index("ix_tel_statistics_user_start")
        batch_op.drop_index("ix_tel_statistics_phone_start")
        batch_op.create_index(
            batch_op.f("ix_tel_statistics_portal_user_id"), ["portal_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tel_statistics_phone_number"), ["phone_number"], unique=False
        )

    with op.batch_alter_table("crm_multifields", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_multifields_lookup")
        batch_op.create_index(
            batch_op.f("ix_crm_multifields_lookup"), ["type_id", "normalized"], unique=False
        )
