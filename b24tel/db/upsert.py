"""``INSERT … ON CONFLICT DO NOTHING`` on either database: a row that another transaction
may be inserting at the same moment is added once, and the loser learns it lost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_new(
    session: AsyncSession, model: Any, values: dict[str, Any], unique: Sequence[str]
) -> bool:
    """Insert the row unless one with the same ``unique`` columns exists; True if added."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    added = await session.execute(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=list(unique))
    )
    return bool(added.rowcount)  # type: ignore[attr-defined]
