"""SQLite's hot units of work (``b24tel.db.hot``): the connection kept for them and the
``Tx`` that runs statements on it through the driver itself.

When the write lock is free — the common case — it is taken in place and every statement
and the COMMIT follow on the event loop, without a thread hand-off; when another process
holds it, the wait runs on the connection's thread (``sqlite_driver.begin_write``), so the
event loop never waits for another process's write. This process's writers take turns
before they get here (``Database.transaction`` and ``Database.hot`` share one lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from b24tel.db import sqlite_driver
from b24tel.db.hot import TX_KEY, Compiled, Query, Row


class SqliteTx:
    """The driver's own calls on a connection this unit of work holds the write lock of."""

    def __init__(self, raw: sqlite3.Connection, dialect: Dialect, conn: AsyncConnection) -> None:
        self._raw = raw
        self._dialect = dialect
        self._conn = conn  # the same connection, as SQLAlchemy's (for ``session``)
        self._session: AsyncSession | None = None
        self._info: dict[str, Any] = {}

    @property
    def dialect(self) -> str:
        return "sqlite"

    @property
    def info(self) -> dict[str, Any]:
        return self._info

    async def _cursor(self, q: Query, params: Mapping[str, Any]) -> tuple[Compiled, sqlite3.Cursor]:
        if self._session is not None and (self._session.new or self._session.dirty):
            await self._session.flush()  # what the ORM holds back is seen by the statement
        compiled = q.compiled(self._dialect)
        return compiled, self._raw.execute(compiled.sql, compiled.args(params))

    async def rows(self, q: Query, **params: Any) -> list[Row]:
        compiled, cursor = await self._cursor(q, params)
        return [compiled.row(r) for r in cursor.fetchall()]

    async def first(self, q: Query, **params: Any) -> Row | None:
        compiled, cursor = await self._cursor(q, params)
        found = cursor.fetchone()
        cursor.close()
        return compiled.row(found) if found is not None else None

    async def run(self, q: Query, **params: Any) -> int:
        return (await self._cursor(q, params))[1].rowcount

    async def run_many(self, q: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._session is not None and (self._session.new or self._session.dirty):
            await self._session.flush()
        compiled = q.compiled(self._dialect)
        self._raw.executemany(compiled.sql, [compiled.args(row) for row in rows])

    async def session(self) -> AsyncSession:
        """The ORM on this transaction: SQLAlchemy is told the transaction has begun (the
        connection's BEGIN listener sees the driver in one and sends nothing)."""
        if self._session is None:
            if not self._conn.in_transaction():
                await self._conn.begin()
            self._session = AsyncSession(bind=self._conn, expire_on_commit=False, autoflush=True)
            self._session.info[TX_KEY] = self  # as_tx(session): this Tx, not Core beside it
        return self._session

    async def close_session(self, *, commit: bool) -> None:
        """End the ORM's part: flushed before COMMIT, its info kept for after it."""
        if self._session is None:
            return
        session, self._session = self._session, None
        try:
            if commit:
                await session.flush()
            for key, value in session.info.items():
                if key == TX_KEY:
                    continue
                mine = self._info.get(key)
                if isinstance(mine, list) and isinstance(value, list):
                    mine.extend(value)
                else:
                    self._info[key] = value
        finally:
            await session.close()


class Lane:
    """The SQLite connection the hot units of work run on. One is enough: this process's
    writers take turns (``Database.transaction``); readers keep the pool."""

    # WAL pages are copied back into the database file by another pooled connection on its
    # thread, not by a COMMIT on the event loop (a checkpoint writes and syncs megabytes);
    # a PASSIVE checkpoint never holds up a writer, so the lane does not wait for it
    CHECKPOINT_EVERY = 500

    def __init__(self, engine: AsyncEngine, lock_wait: float) -> None:
        self._engine = engine
        self._lock_wait = lock_wait
        self._conn: AsyncConnection | None = None
        self._raw: sqlite3.Connection | None = None
        self._driver: Any = None
        self._commits = 0
        self._checkpoint: asyncio.Future[Any] | None = None

    async def _open(self) -> tuple[AsyncConnection, sqlite3.Connection]:
        if self._conn is None or self._raw is None:
            conn = await self._engine.connect()
            try:
                conn = await conn.execution_options(b24tel_write=True)
                adapted = (await conn.get_raw_connection()).dbapi_connection
                driver = adapted._connection  # type: ignore[union-attr]
                raw: sqlite3.Connection = driver._conn
                raw.execute("PRAGMA busy_timeout=0")  # statements here never wait: see begin
                raw.execute("PRAGMA wal_autocheckpoint=0")
                adapted.inline = True  # type: ignore[union-attr]
            except BaseException:
                await conn.close()
                raise
            self._conn, self._raw, self._driver = conn, raw, driver
        return self._conn, self._raw

    async def close(self) -> None:
        conn, self._conn, self._raw = self._conn, None, None
        if self._checkpoint is not None:
            await _settled(self._checkpoint)
            self._checkpoint = None
        if conn is not None:
            await conn.invalidate()  # the driver connection's state is ours, not the pool's

    async def begin(self, *, readonly: bool = False) -> SqliteTx:
        conn, raw = await self._open()
        try:
            raw.execute("BEGIN" if readonly else sqlite_driver.BEGIN_WRITE)
        except sqlite3.OperationalError as exc:
            if not sqlite_driver.is_busy(exc):
                raise
            await self._begin_waiting(raw)
        return SqliteTx(raw, conn.dialect, conn)

    async def _begin_waiting(self, raw: sqlite3.Connection) -> None:
        """Another process writes: wait for the lock on the connection's thread."""
        begun = asyncio.ensure_future(
            self._driver._execute(sqlite_driver.begin_write, raw, self._lock_wait)
        )
        try:
            await asyncio.shield(begun)
        except asyncio.CancelledError:
            await _settled(begun)
            if raw.in_transaction:
                raw.rollback()
            raise

    async def commit(self, tx: SqliteTx) -> None:
        await tx.close_session(commit=True)
        assert self._raw is not None and self._conn is not None
        self._raw.commit()
        if self._conn.in_transaction():
            await self._conn.commit()  # SQLAlchemy's bookkeeping; the driver has committed
        self._commits += 1
        if self._commits % self.CHECKPOINT_EVERY == 0 and self._checkpoint is None:
            self._checkpoint = asyncio.ensure_future(self._copy_back())

    async def _copy_back(self) -> None:
        try:
            # a failure is tried again after the next CHECKPOINT_EVERY commits
            with contextlib.suppress(Exception):
                async with self._engine.connect() as conn:
                    # outside any transaction: the driver's own call, no BEGIN before it
                    driver: Any = (await conn.get_raw_connection()).driver_connection
                    cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    await cursor.close()
        finally:
            self._checkpoint = None

    async def rollback(self, tx: SqliteTx) -> None:
        try:
            await tx.close_session(commit=False)
        finally:
            if self._raw is not None and self._raw.in_transaction:
                self._raw.rollback()
            if self._conn is not None and self._conn.in_transaction():
                await self._conn.rollback()


async def _settled(future: asyncio.Future[Any]) -> None:
    """Wait for work on the lane's thread to end, whatever its outcome (a failed checkpoint
    is tried again later; a wait given up on was cancelled by its caller)."""
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()  # retrieved: not reported as never retrieved
