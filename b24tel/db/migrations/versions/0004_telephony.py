"""telephony: lines, calls, cards, statistics, missed calls, transcripts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tel_call_cards",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "user_id", name=op.f("pk_tel_call_cards")),
    )
    op.create_table(
        "tel_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("external_call_id", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("rest_app_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("portal_user_id", sa.Integer(), nullable=True),
        sa.Column("incoming", sa.String(length=50), nullable=False),
        sa.Column("caller_id", sa.String(length=255), nullable=False),
        sa.Column("date_create", sa.DateTime(), nullable=False),
        sa.Column("external_line_id", sa.Integer(), nullable=True),
        sa.Column("portal_number", sa.String(length=255), nullable=False),
        sa.Column("crm_bindings", sa.JSON(), nullable=True),
        sa.Column("crm_entity_type", sa.String(length=50), nullable=True),
        sa.Column("crm_entity_id", sa.Integer(), nullable=True),
        sa.Column("crm_created_lead", sa.Integer(), nullable=True),
        sa.Column("crm_created_entities", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_tel_calls_call_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tel_calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tel_calls_dedup",
            ["owner", "user_id", "caller_id", "incoming", "finished_at"],
            unique=False,
        )

    op.create_table(
        "tel_external_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("normalized_number", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("crm_auto_create", sa.String(length=1), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_external_lines")),
        sa.UniqueConstraint("owner", "number", name=op.f("uq_tel_external_lines_owner_number")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tel_statistics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("external_call_id", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("portal_user_id", sa.Integer(), nullable=True),
        sa.Column("portal_number", sa.String(length=255), nullable=True),
        sa.Column("phone_number", sa.String(length=255), nullable=False),
        sa.Column("incoming", sa.String(length=50), nullable=False),
        sa.Column("call_category", sa.String(length=20), nullable=False),
        sa.Column("call_log", sa.String(length=2000), nullable=True),
        sa.Column("call_duration", sa.Integer(), nullable=False),
        sa.Column("call_start_date", sa.DateTime(), nullable=False),
        sa.Column("call_status", sa.Integer(), nullable=False),
        sa.Column("call_record_url", sa.String(length=2000), nullable=True),
        sa.Column("call_vote", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=11, scale=4), nullable=False),
        sa.Column("cost_currency", sa.String(length=50), nullable=False),
        sa.Column("call_failed_code", sa.String(length=255), nullable=False),
        sa.Column("call_failed_reason", sa.String(length=255), nullable=False),
        sa.Column("crm_entity_type", sa.String(length=50), nullable=True),
        sa.Column("crm_entity_id", sa.Integer(), nullable=True),
        sa.Column("crm_activity_id", sa.Integer(), nullable=True),
        sa.Column("rest_app_id", sa.Integer(), nullable=True),
        sa.Column("rest_app_name", sa.String(length=255), nullable=True),
        sa.Column("transcript_id", sa.Integer(), nullable=True),
        sa.Column("transcript_pending", sa.String(length=1), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("record_file_id", sa.Integer(), nullable=True),
        sa.Column("record_fetch_status", sa.String(length=10), nullable=True),
        sa.Column("record_fetch_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_statistics")),
        sa.UniqueConstraint("call_id", name=op.f("uq_tel_statistics_call_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tel_statistics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_statistics_phone_number"), ["phone_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tel_statistics_portal_user_id"), ["portal_user_id"], unique=False
        )
        batch_op.create_index("ix_tel_statistics_start", ["call_start_date"], unique=False)

    op.create_table(
        "tel_transcripts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("cost", sa.Numeric(precision=11, scale=4), nullable=True),
        sa.Column("cost_currency", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_transcripts")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tel_transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tel_transcripts_call_id"), ["call_id"], unique=False)

    op.create_table(
        "tel_missed_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_start_date", sa.DateTime(), nullable=False),
        sa.Column("phone_number", sa.String(length=255), nullable=False),
        sa.Column("portal_user_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("callback_call_start_date", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"],
            ["tel_statistics.id"],
            name=op.f("fk_tel_missed_calls_id_tel_statistics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_missed_calls")),
    )
    with op.batch_alter_table("tel_missed_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_missed_calls_phone_number"), ["phone_number"], unique=False
        )

    op.create_table(
        "tel_transcript_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("start_time", sa.Integer(), nullable=False),
        sa.Column("stop_time", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["tel_transcripts.id"],
            name=op.f("fk_tel_transcript_lines_transcript_id_tel_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_transcript_lines")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tel_transcript_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_transcript_lines_transcript_id"), ["transcript_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tel_transcript_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_transcript_lines_transcript_id"))

    op.drop_table("tel_transcript_lines")
    with op.batch_alter_table("tel_missed_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_missed_calls_phone_number"))

    op.drop_table("tel_missed_calls")
    with op.batch_alter_table("tel_transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_transcripts_call_id"))

    op.drop_table("tel_transcripts")
    with op.batch_alter_table("tel_statistics", schema=None) as batch_op:
        batch_op.drop_index("ix_tel_statistics_start")
        batch_op.drop_index(batch_op.f("ix_tel_statistics_portal_user_id"))
        batch_op.drop_index(batch_op.f("ix_tel_statistics_phone_number"))

    op.drop_table("tel_statistics")
    op.drop_table("tel_external_lines")
    with op.batch_alter_table("tel_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_tel_calls_dedup")

    op.drop_table("tel_calls")
    op.drop_table("tel_call_cards")
