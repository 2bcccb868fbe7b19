"""events: subscriptions, the delivery outbox, offline queues, outgoing webhooks, and
application installs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("handler_url", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("installed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("installed_by", ID, nullable=True))
    # applications made before installs existed count as installed since their creation
    op.execute("UPDATE apps SET installed_at = created_at")

    op.create_table(
        "outgoing_webhooks",
        _id(),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_outgoing_webhooks_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_webhooks")),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_table(
        "event_bindings",
        _id(),
        sa.Column("app_id", ID, nullable=True),
        sa.Column("outgoing_id", ID, nullable=True),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("auth_type", ID, nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("auth_connector", sa.String(length=255), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE",
                                name=op.f("fk_event_bindings_app_id_apps")),
        sa.ForeignKeyConstraint(["outgoing_id"], ["outgoing_webhooks.id"], ondelete="CASCADE",
                                name=op.f("fk_event_bindings_outgoing_id_outgoing_webhooks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_bindings")),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("ix_event_bindings_event", "event_bindings", ["event"])
    op.create_table(
        "event_deliveries",
        _id(),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("binding_id", ID, nullable=True),
        sa.Column("app_id", ID, nullable=True),
        sa.Column("outgoing_id", ID, nullable=True),
        sa.Column("auth_user_id", ID, nullable=True),
        sa.Column("application_token", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("ordering_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("status_codes", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_latency_ms", ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_event_deliveries_idempotency_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_deliveries_due", "event_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_event_deliveries_order", "event_deliveries", ["ordering_key", "id"])
    op.create_table(
        "offline_events",
        _id(),
        sa.Column("app_id", ID, nullable=False),
        sa.Column("auth_connector", sa.String(length=255), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("event_data", sa.JSON(), nullable=False),
        sa.Column("event_additional", sa.JSON(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("timestamp_x", sa.DateTime(), nullable=False),
        sa.Column("process_id", sa.String(length=64), nullable=False),
        sa.Column("reserved_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE",
                                name=op.f("fk_offline_events_app_id_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_events")),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index(
        "ix_offline_events_queue", "offline_events", ["app_id", "auth_connector", "process_id"]
    )
    op.create_index("ix_offline_events_message", "offline_events", ["app_id", "message_id"])


def downgrade() -> None:
    for table in ("offline_events", "event_deliveries", "event_bindings", "outgoing_webhooks"):
        op.drop_table(table)
    with op.batch_alter_table("apps") as batch:
        for column in ("installed_by", "installed_at", "handler_url"):
            batch.drop_column(column)
