"""binding keys (one binding however many binds arrive at once); handler circuit breakers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _key(row: sa.Row) -> str:  # type: ignore[type-arg]
    owner = f"app:{row.app_id}" if row.app_id is not None else f"out:{row.outgoing_id}"
    parts = [owner, row.event, row.handler, str(row.auth_type), "1" if row.offline else "0",
             row.auth_connector]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("event_bindings") as batch:
        batch.add_column(sa.Column("binding_key", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, app_id, outgoing_id, event, handler, auth_type, offline, auth_connector "
            "FROM event_bindings ORDER BY id"
        )
    ).all()
    seen: set[str] = set()
    for row in rows:
        key = _key(row)
        if key in seen:  # a duplicate made before the constraint: the first one stays
            conn.execute(sa.text("DELETE FROM event_bindings WHERE id = :id"), {"id": row.id})
            continue
        seen.add(key)
        conn.execute(
            sa.text("UPDATE event_bindings SET binding_key = :k WHERE id = :id"),
            {"k": key, "id": row.id},
        )
    with op.batch_alter_table("event_bindings") as batch:
        batch.alter_column("binding_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_event_bindings_binding_key", ["binding_key"])
    op.create_table(
        "event_handler_health",
        sa.Column("handler_key", sa.String(length=64), nullable=False),
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("timeouts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("trips", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("open_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handler_key", name=op.f("pk_event_handler_health")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("event_handler_health")
    with op.batch_alter_table("event_bindings") as batch:
        batch.drop_constraint("uq_event_bindings_binding_key", type_="unique")
        batch.drop_column("binding_key")
