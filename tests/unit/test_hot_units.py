"""The hot path's unit of work (b24tel.db.hot) on SQLite and PostgreSQL: prebuilt Core
statements read and write the same values the ORM does, the write check holds, the ORM
joins the same transaction, and on SQLite the unit runs without a thread hand-off unless
another writer holds the lock — and then the event loop keeps going while it waits."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, bindparam, select

from b24tel.db.base import UTCDateTime
from b24tel.db.engine import Database
from b24tel.db.hot import Query, Tx, insert, scalar, update
from b24tel.errors import ApiError

META = MetaData()
NAME = f"hot_probe_{secrets.token_hex(3)}"
PROBE = Table(
    NAME, META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(10)),
    Column("at", UTCDateTime),
    Column("data", JSON),
    Column("flag", Boolean),
)  # fmt: skip


class Probe:  # a mapped-class stand-in for the helpers, which take a model's table
    __table__ = PROBE


ADD = insert(Probe, ("label", "at", "data", "flag"))
SET_LABEL = update(Probe, "id", ("label",))
ALL = Query(select(PROBE.c.id, PROBE.c.label, PROBE.c.at, PROBE.c.data, PROBE.c.flag))
BY_LABEL = Query(select(PROBE.c.id).where(PROBE.c.label == bindparam("label")))
AT = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(META.create_all)
    yield database
    await database.dispose()
    cleanup = Database(database_url)
    async with cleanup.engine.begin() as conn:
        await conn.run_sync(META.drop_all)
    await cleanup.dispose()


async def _rows(db: Database) -> list[Any]:
    async with db.transaction(readonly=True) as s:
        return [tuple(r) for r in (await s.execute(select(PROBE))).all()]


async def test_values_go_in_and_come_out_as_the_orm_s(db: Database) -> None:
    async with db.hot() as tx:
        new_id = await scalar(tx, ADD, label="a", at=AT, data={"k": [1, "x"]}, flag=True)
        assert await tx.run(SET_LABEL, label="b", by=new_id) == 1
        rows = await tx.rows(ALL)
    assert [tuple(r) for r in rows] == [(new_id, "b", AT, {"k": [1, "x"]}, True)]
    assert await _rows(db) == [(new_id, "b", AT, {"k": [1, "x"]}, True)]
    assert rows[0][2].tzinfo is not None


async def test_a_value_longer_than_its_column_is_refused_like_a_flush(db: Database) -> None:
    with pytest.raises(ApiError) as caught:
        async with db.hot() as tx:
            await scalar(tx, ADD, label="ok", at=AT, data=None, flag=False)
            await scalar(tx, ADD, label="x" * 11, at=AT, data=None, flag=False)
    assert caught.value.status == 400 and "LABEL" in caught.value.description
    assert await _rows(db) == []  # the whole unit rolled back


async def test_the_orm_joins_the_unit_and_both_commit_or_neither(db: Database) -> None:
    async with db.hot() as tx:
        await scalar(tx, ADD, label="raw", at=AT, data=None, flag=False)
        session = await tx.session()
        await session.execute(PROBE.insert().values(label="orm", at=AT, flag=True))
        await session.flush()
        assert await scalar(tx, BY_LABEL, label="orm") is not None
    assert sorted(r[1] for r in await _rows(db)) == ["orm", "raw"]
    with pytest.raises(RuntimeError, match="boom"):
        async with db.hot() as tx:
            session = await tx.session()
            await session.execute(PROBE.insert().values(label="gone", at=AT, flag=True))
            await scalar(tx, ADD, label="gone2", at=AT, data=None, flag=False)
            raise RuntimeError("boom")
    assert sorted(r[1] for r in await _rows(db)) == ["orm", "raw"]
    async with db.hot() as tx:  # the connection is clean for the next unit
        assert len(await tx.rows(ALL)) == 2


def _threads(db: Database) -> list[int]:
    """The threads SQLite runs the lane's statements on (sqlite3's trace callback)."""
    seen: list[int] = []
    lane = db._lane
    assert lane is not None and lane._raw is not None
    lane._raw.set_trace_callback(lambda sql: seen.append(threading.get_ident()))
    return seen


@pytest.fixture
def sqlite_db(db: Database) -> Database:
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock")
    return db


async def test_sqlite_runs_a_unit_in_place_when_the_lock_is_free(sqlite_db: Database) -> None:
    db = sqlite_db
    async with db.hot() as tx:  # opens the lane
        await tx.rows(ALL)
    seen = _threads(db)
    async with db.hot() as tx:
        await scalar(tx, ADD, label="a", at=AT, data=None, flag=False)
    assert seen and set(seen) == {threading.get_ident()}  # BEGIN, INSERT, COMMIT: no hand-off


async def _hold_write_lock(path: str, seconds: float, started: threading.Event) -> None:
    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        started.set()
        threading.Event().wait(seconds)
        other.execute("COMMIT")
        other.close()

    await asyncio.to_thread(hold)


async def test_sqlite_waits_for_another_writer_off_the_event_loop(sqlite_db: Database) -> None:
    db = sqlite_db
    async with db.hot() as tx:
        await tx.rows(ALL)
    seen = _threads(db)
    path = db.engine.url.database
    assert path
    started = threading.Event()
    holder = asyncio.create_task(_hold_write_lock(path, 0.5, started))
    await asyncio.to_thread(started.wait)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    async with db.hot() as tx:
        await scalar(tx, ADD, label="after", at=AT, data=None, flag=False)
    ticker.cancel()
    await holder
    assert ticks >= 20  # the loop went on for the half second the other writer held on
    assert threading.get_ident() in seen and len(set(seen)) == 2  # BEGIN waited elsewhere
    assert [r[1] for r in await _rows(db)] == ["after"]


async def test_sqlite_a_unit_cancelled_while_waiting_leaves_the_lane_usable(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    path = db.engine.url.database
    assert path
    started = threading.Event()
    holder = asyncio.create_task(_hold_write_lock(path, 0.3, started))
    await asyncio.to_thread(started.wait)

    async def unit() -> None:
        async with db.hot() as tx:
            await scalar(tx, ADD, label="never", at=AT, data=None, flag=False)

    waiting = asyncio.create_task(unit())
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await holder
    async with db.hot() as tx:
        await scalar(tx, ADD, label="next", at=AT, data=None, flag=False)
    assert [r[1] for r in await _rows(db)] == ["next"]


async def _tx_dialect(tx: Tx) -> str:
    return tx.dialect


async def test_a_tx_says_its_dialect(db: Database) -> None:
    async with db.hot() as tx:
        assert await _tx_dialect(tx) == db.engine.dialect.name


async def test_what_the_orm_holds_back_is_seen_by_the_next_statement(db: Database) -> None:
    from sqlalchemy.orm import DeclarativeBase

    from b24tel.db.hot import as_tx

    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __table__ = PROBE

    async with db.hot() as tx:
        session = await tx.session()
        assert await as_tx(session) is tx or not db.is_sqlite  # the session's own Tx
        session.add(Row(label="pending", at=AT, flag=False))  # not flushed yet
        assert await scalar(tx, BY_LABEL, label="pending") is not None
    async with db.hot(readonly=True) as tx:
        assert [r[1] for r in await tx.rows(ALL)] == ["pending"]


async def test_sqlite_the_log_is_copied_back_beside_the_lane(sqlite_db: Database) -> None:
    """The lane's COMMITs do not copy the write-ahead log into the database file (that
    writes and syncs on the event loop); every so many commits another connection does."""
    db = sqlite_db
    lane = db._lane
    assert lane is not None
    lane.CHECKPOINT_EVERY = 3  # this instance's, so the test needs few commits
    path = db.engine.url.database
    assert path

    def in_the_file() -> int:
        # the database file alone, without its log
        plain = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return int(plain.execute(f"SELECT count(*) FROM {NAME}").fetchone()[0])
        finally:
            plain.close()

    first = sqlite3.connect(path)  # the empty table into the file, so it can be counted there
    first.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    first.close()
    for n in range(2):
        async with db.hot() as tx:
            await scalar(tx, ADD, label=f"r{n}", at=AT, data=None, flag=False)
    assert in_the_file() == 0 and lane._checkpoint is None
    async with db.hot() as tx:
        await scalar(tx, ADD, label="r2", at=AT, data=None, flag=False)
    assert lane._checkpoint is not None
    await asyncio.wait([lane._checkpoint])
    assert in_the_file() == 3


async def test_add_refuses_a_table_whose_json_a_flush_would_leave_null(db: Database) -> None:
    from b24tel.db.hot import add

    class Row:
        __table__ = PROBE

        def __init__(self) -> None:
            self.label, self.at, self.data, self.flag = "x", AT, None, False

    async with db.hot() as tx:
        with pytest.raises(TypeError, match="JSON"):
            await add(tx, Row())
