"""Compiled SQL outlives an engine (b24tel/db/statements.py): a second ``Database`` on the
same URL in one process — the next test's app, a command run in the test's process — runs
the statements the first compiled without compiling them again, the ORM's flush included,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.engine.interfaces import CacheStats

from b24tel.db.engine import Database
from b24tel.users import service as users
from b24tel.users.models import User

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def _add_and_remove_a_user(url: str) -> list[CacheStats]:
    """What the statements of one unit of work found in the compiled cache."""
    db = Database(url)
    seen: list[CacheStats] = []

    def record(
        _conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any
    ) -> None:
        seen.append(context.cache_hit)

    event.listen(db.engine.sync_engine, "after_cursor_execute", record)
    try:
        async with db.transaction() as s:
            user = await users.create_user(s, NOW, name="Compiled", email="compiled@example.com")
            await s.execute(delete(User).where(User.id == user.id))
    finally:
        await db.dispose()
    return seen


async def test_a_second_database_compiles_nothing_again(database_url: str) -> None:
    await _add_and_remove_a_user(database_url)
    again = await _add_and_remove_a_user(database_url)
    assert again and CacheStats.CACHE_MISS not in again, again
    assert again.count(CacheStats.CACHE_HIT) >= 3, again  # the lookups, the INSERT, the DELETE
