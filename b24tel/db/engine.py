"""Engine and unit of work.

SQLite: WAL journal, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for write
transactions — a deferred transaction that later needs the write lock can fail at once with
"database is locked" instead of waiting, so writers take the lock up front. Read-only units
of work use a plain ``BEGIN`` and run beside writers (WAL).

Every wait is bounded (``Limits``): opening a connection, one statement (PostgreSQL's
``statement_timeout``, and the same on the client side for a server that stopped answering
altogether; SQLite's busy timeout), waiting for a pooled connection or for this process's
turn to write. A unit of work that fails because the database is away raises
``DATABASE_UNAVAILABLE`` (503, retryable) after rolling back (``b24tel.db.outage``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from b24tel import errors
from b24tel.db import sqlite_driver
from b24tel.db.cache import CACHES, Caches
from b24tel.db.hot import CoreTx, Tx
from b24tel.db.lane import Lane, SqliteTx
from b24tel.db.outage import Outage, away
from b24tel.db.statements import ASYNCPG, STATEMENTS
from b24tel.errors import ApiError

POOL_SIZE = 30  # PostgreSQL connections of one process at most (plus one for LISTEN)
# a server that stopped answering is given this long past statement_timeout to say so itself
CLIENT_GRACE = 1.0
# a pooled PostgreSQL connection unused this long is pinged before use (see `_liveness`)
IDLE_PING_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    """Bounded waits, in seconds (settings ``database_*_timeout``)."""

    connect: float = 5.0
    statement: float = 5.0
    pool: float = 5.0

    @property
    def busy_ms(self) -> int:
        return max(1, int(self.statement * 1000))


class DatabaseSettings(Protocol):
    """What ``open_database`` reads of ``b24tel.config.Settings``."""

    @property
    def effective_database_url(self) -> str: ...
    @property
    def database_connect_timeout(self) -> float: ...
    @property
    def database_statement_timeout(self) -> float: ...
    @property
    def database_pool_timeout(self) -> float: ...


def open_database(settings: DatabaseSettings) -> Database:
    """The database of these settings, with their bounded waits."""
    limits = Limits(
        connect=settings.database_connect_timeout,
        statement=settings.database_statement_timeout,
        pool=settings.database_pool_timeout,
    )
    return Database(settings.effective_database_url, limits=limits)


def make_engine(url: str, *, pool_size: int = POOL_SIZE, limits: Limits = Limits()) -> AsyncEngine:
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
            connect_args={"timeout": limits.statement},
            execution_options={"compiled_cache": STATEMENTS},
            pool_reset_on_return=None,
            hide_parameters=True,  # parameters never reach a log line or an error text
        )
        _sqlite_setup(engine, limits.busy_ms)
        return engine
    if parsed.get_driver_name() == "asyncpg":  # the same, sharing compiled statements
        parsed = parsed.set(drivername=ASYNCPG)
    # connections are opened as requests need them and then kept: with a small pool and
    # overflow on top, a burst opened and closed a connection per request above the pool
    # (bench/flow.py: register at concurrency 32, +15 %); the ceiling is the same 30
    engine = create_async_engine(
        parsed,
        execution_options={"compiled_cache": STATEMENTS},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=limits.pool,
        pool_reset_on_return=None,
        hide_parameters=True,
        connect_args={
            "timeout": limits.connect,
            "command_timeout": limits.statement + CLIENT_GRACE,
            "server_settings": {"statement_timeout": str(limits.busy_ms)},
        },
    )
    _liveness(engine)
    return engine


def _liveness(engine: AsyncEngine) -> None:
    """A pooled connection is checked before use, without a round trip while it is busy.

    A server that restarts, shuts down or ends a backend closes the connection, and asyncpg
    sees that at once (``is_closed``). Only a connection idle for ``IDLE_PING_SECONDS`` —
    long enough for a firewall or proxy to have dropped it without a word — gets
    SQLAlchemy's ping (BEGIN, an empty query, ROLLBACK). That ping on every checkout was
    three round trips per unit of work: a register made 10 instead of 7, and two workers
    served 1.47× one process instead of 1.66× (docs/benchmarks.md, "round three — fourth
    part"). A dead connection found either way invalidates the pool, as the pre-ping did:
    its siblings are as old as it is."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if dbapi_conn.driver_connection.is_closed():
            raise sa_exc.InvalidatePoolError("the server closed the connection")
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since >= IDLE_PING_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:
                raise sa_exc.InvalidatePoolError("the connection did not answer a ping") from exc


def make_migration_engine(url: str) -> AsyncEngine:
    # no statement timeout: a migration of a large table takes as long as it takes
    engine = create_async_engine(url, poolclass=NullPool)
    if make_url(url).get_backend_name() == "sqlite":
        _sqlite_setup(engine, Limits(statement=30.0).busy_ms)
    return engine


def _sqlite_setup(engine: AsyncEngine, busy_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control away from the driver so BEGIN is ours
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        driver = conn.connection.dbapi_connection
        if getattr(driver, "inline", False) and driver.in_transaction():
            return  # a hot unit's ORM session joins the transaction the unit began (db/hot)
        write = conn.get_execution_options().get("b24tel_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    def __init__(self, url: str, *, pool_size: int = POOL_SIZE, limits: Limits = Limits()) -> None:
        self.url = url
        self.limits = limits
        self.engine = make_engine(url, pool_size=pool_size, limits=limits)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.outage = Outage()
        # SQLite has one writer at a time; waiting in its busy handler means sleeping with
        # back-off (tens of milliseconds), so writers of this process queue here instead
        self._write_lock = asyncio.Lock()
        # called with a unit of work's ``session.info`` once it has committed (the event
        # worker wakes up when a transaction wrote deliveries)
        self.after_commit: list[Callable[[dict[str, Any]], None]] = []
        # the hot path's copies of rarely changed rows (b24tel.db.cache)
        self.caches = Caches()
        self.after_commit.append(self.caches.commit)
        self._lane = Lane(self.engine, limits.statement) if self.is_sqlite else None

    @asynccontextmanager
    async def hot(self, *, readonly: bool = False) -> AsyncIterator[Tx]:
        """A unit of work of the hot path (``b24tel.db.hot``): Core statements on the
        driver, at most one hand-off on SQLite; the same guarantees as ``transaction``.
        On SQLite a read-only one runs on the same connection, in its turn (it takes no
        write lock and is over in moments)."""
        if self._lane is None:
            async with self.transaction(readonly=readonly) as session:
                core = await CoreTx.of(session)
                core.info[CACHES] = self.caches
                yield core
            return
        await self._turn_to_write()
        try:
            async with self._lane_unit(self._lane, readonly) as tx:
                yield tx
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def _lane_unit(self, lane: Lane, readonly: bool) -> AsyncIterator[SqliteTx]:
        begun = False
        try:
            tx = await lane.begin(readonly=readonly)
            tx.info[CACHES] = self.caches
            begun = True
            try:
                yield tx
                await lane.commit(tx)
            except BaseException:
                await lane.rollback(tx)
                raise
        except ApiError:
            raise
        except Exception as exc:
            kind = away(exc, connecting=not begun)
            if kind is None:
                raise
            await lane.close()  # opened afresh by the next unit
            self.outage.failed(kind, exc)
            raise errors.database_unavailable() from exc
        self.outage.answered()
        if tx.info:
            for hook in self.after_commit:
                hook(tx.info)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends normally, rolls back otherwise.
        ``DATABASE_UNAVAILABLE`` when the database is away (``b24tel.db.outage``)."""
        if self.is_sqlite and not readonly:
            await self._turn_to_write()
            try:
                async with self._unit(readonly) as session:
                    yield session
            finally:
                self._write_lock.release()
        else:
            async with self._unit(readonly) as session:
                yield session

    async def _turn_to_write(self) -> None:
        try:
            async with asyncio.timeout(self.limits.pool):
                await self._write_lock.acquire()
        except TimeoutError as exc:
            self.outage.failed("slow", exc)
            raise errors.database_unavailable() from exc

    @asynccontextmanager
    async def _unit(self, readonly: bool) -> AsyncIterator[AsyncSession]:
        connecting = True
        try:
            async with self.engine.connect() as conn:
                connecting = False
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
        except ApiError:
            raise
        except Exception as exc:
            kind = away(exc, connecting=connecting)
            if kind is None:
                raise
            self.outage.failed(kind, exc)
            raise errors.database_unavailable() from exc
        self.outage.answered()
        if info:
            for hook in self.after_commit:
                hook(info)

    async def dispose(self) -> None:
        if self._lane is not None:
            await self._lane.close()
        await self.engine.dispose()
