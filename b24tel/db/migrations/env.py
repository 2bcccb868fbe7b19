"""Alembic environment: async engine; the tables' metadata is handed in by whoever makes
a new revision (``b24tel db revision``), as the database layer knows no feature."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from b24tel.db.engine import make_migration_engine

config = context.config
metadata = config.attributes.get("metadata")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    engine = make_migration_engine(str(url))
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `b24tel db upgrade`")
asyncio.run(_main())
