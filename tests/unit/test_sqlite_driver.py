"""SQLite with one thread hand-off per statement (b24tel.db.sqlite_driver): the server's
engine uses it, and what SQLAlchemy reads from a cursor — rows, row counts, last row ids,
errors, streamed results — is what the stock aiosqlite adapter gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from b24tel.db import sqlite_driver
from b24tel.db.engine import Database


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with database.transaction() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield database
    await database.dispose()


async def test_the_server_engine_uses_one_hand_off_per_statement(db: Database) -> None:
    assert sqlite_driver.available()
    assert isinstance(db.engine.dialect, sqlite_driver.OneHopDialect)
    assert db.engine.dialect.name == "sqlite" and db.is_sqlite
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection.cursor(), sqlite_driver.OneHopCursor)


async def test_rows_counts_and_ids_are_those_of_the_statement(db: Database) -> None:
    async with db.transaction() as s:
        conn = await s.connection()
        inserted = await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('a')")
        assert inserted.lastrowid == 1 and inserted.rowcount == 1
        many = await conn.exec_driver_sql("INSERT INTO t (name) VALUES (?)", [("b",), ("c",)])
        assert many.rowcount == 2
        returned = await s.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id, name"))
        assert returned.all() == [(4, "d")]
        updated = await s.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 3
        empty = await s.execute(text("SELECT id, name FROM t WHERE id < 0"))
        assert list(empty.keys()) == ["id", "name"] and empty.all() == []
    async with db.transaction(readonly=True) as s:
        rows = (await s.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert rows == ["a", "b!", "c!", "d!"]
        streamed = await s.stream(text("SELECT id FROM t ORDER BY id"))
        assert [row async for row in streamed.scalars()] == [1, 2, 3, 4]
        batches = (await s.execute(text("SELECT id FROM t ORDER BY id"))).partitions()
        assert [len(batch) for batch in batches] == [1, 1, 1, 1]  # fetchmany() of arraysize


async def test_errors_and_rollback_are_as_before(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await s.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with db.transaction(readonly=True) as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    with pytest.raises(Exception, match="no such table"):
        async with db.transaction(readonly=True) as s:
            await s.execute(text("SELECT * FROM missing"))
