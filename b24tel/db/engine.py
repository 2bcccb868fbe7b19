"""Engine and unit of work.

SQLite: WAL journal, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for write
transactions — a deferred transaction that later needs the write lock can fail at once with
"database is locked" instead of waiting, so writers take the lock up front. Read-only units
of work use a plain ``BEGIN`` and run beside writers (WAL).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from b24tel.db import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = sqlite_driver.BUSY_TIMEOUT_MS
POOL_SIZE = 30  # PostgreSQL connections of one process at most (plus one for LISTEN)


def make_engine(url: str, *, pool_size: int = POOL_SIZE) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_driver_name() == "aiosqlite" and sqlite_driver.available():
            parsed = parsed.set(drivername=sqlite_driver.DRIVER)
        # every unit of work ends in COMMIT or ROLLBACK itself: no reset round trip on
        # check-in
        engine = create_async_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_reset_on_return=None,
            hide_parameters=True,  # parameters never reach a log line or an error text
        )
        _sqlite_setup(engine)
        return engine
    # connections are opened as requests need them and then kept: with a small pool and
    # overflow on top, a burst opened and closed a connection per request above the pool
    # (bench/flow.py: register at concurrency 32, +15 %); the ceiling is the same 30
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_reset_on_return=None,
        hide_parameters=True,
    )


def make_migration_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, poolclass=NullPool)
    if make_url(url).get_backend_name() == "sqlite":
        _sqlite_setup(engine)
    return engine


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control away from the driver so BEGIN is ours
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("b24tel_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; waiting in its busy handler means sleeping with
        # back-off (tens of milliseconds), so writers of this process queue here instead
        self._write_lock = asyncio.Lock()
        # called with a unit of work's ``session.info`` once it has committed (the event
        # worker wakes up when a transaction wrote deliveries)
        self.after_commit: list[Callable[[dict[str, Any]], None]] = []

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends normally, rolls back otherwise."""
        if self.is_sqlite and not readonly:
            async with self._write_lock, self._unit(readonly) as session:
                yield session
        else:
            async with self._unit(readonly) as session:
                yield session

    @asynccontextmanager
    async def _unit(self, readonly: bool) -> AsyncIterator[AsyncSession]:
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(b24tel_write=not readonly)
            async with conn.begin():
                session = AsyncSession(bind=conn, expire_on_commit=False, autoflush=True)
                info = session.info
                try:
                    yield session
                    await session.flush()
                finally:
                    await session.close()
        if info:
            for hook in self.after_commit:
                hook(info)

    async def dispose(self) -> None:
        await self.engine.dispose()
