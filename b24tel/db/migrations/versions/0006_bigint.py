"""64-bit integers in every integer column (PostgreSQL; SQLite's INTEGER already is)

Clients send PHP's 64-bit integers for IDs, durations and sort orders; a 32-bit column
turned a large one into a database error.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = sa.text(
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND data_type = 'integer' "
    "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in bind.execute(_COLUMNS).all():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT')
        sequence = bind.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
            {"t": f'"{table}"', "c": column},
        ).scalar()
        if sequence:
            op.execute(f"ALTER SEQUENCE {sequence} AS BIGINT")


def downgrade() -> None:
    """Nothing to undo: 64-bit columns hold every value 32-bit ones did."""
