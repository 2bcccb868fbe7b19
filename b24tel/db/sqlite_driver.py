"""SQLite through aiosqlite with one thread hand-off per statement.

aiosqlite runs every call of the ``sqlite3`` module in its own thread; SQLAlchemy's adapter
makes four such calls for one statement (create the cursor, execute, fetch, close), each a
round trip through a queue, a thread wake-up and the event loop — about 100 µs apiece, while
the statement itself takes a few. Writers of one process take turns (SQLite has one writer),
so those hand-offs, not the SQL, set how many write transactions a second the server can
commit (docs/benchmarks.md, "Request throughput, round two — second part").

This dialect is the stock ``sqlite+aiosqlite`` one with a cursor that does the whole
statement — create, execute, fetch every row, close — in one call on aiosqlite's thread,
and keeps the description, row count and last row id it read there. Everything else
(transactions, pooling, errors, server-side cursors for streamed reads) is SQLAlchemy's.
"""

from __future__ import annotations

import collections
import random
import sqlite3
import time
from threading import Thread
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from b24tel.db.statements import SharedStatements

DRIVER = "sqlite+b24tel_aiosqlite"

_Outcome = tuple[Any, int, int | None, list[Any] | None]


# how a writer waits for SQLite's one write lock held by another process (a command beside
# a busy server, or the server beside a long command): SQLite's own busy handler sleeps
# 1, 2, 5 … then 100 ms between tries, so against a process that lets go of the lock for
# a fraction of a millisecond between transactions it can miss every chance for the whole
# busy timeout and fail with "database is locked"; trying every few tenths of a
# millisecond catches the first gap
BEGIN_WRITE = "BEGIN IMMEDIATE"
_POLL = (0.0001, 0.0005)


def _begin_write(conn: sqlite3.Connection) -> _Outcome:
    begin_write(conn, None)
    return None, -1, None, None


def begin_write(conn: sqlite3.Connection, seconds: float | None) -> None:
    """BEGIN IMMEDIATE, trying again every few tenths of a millisecond for ``seconds`` —
    None: the connection's busy timeout (``database_statement_timeout``)."""
    busy_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    deadline = time.monotonic() + (busy_ms / 1000 if seconds is None else seconds)
    conn.execute("PRAGMA busy_timeout=0")  # no sleeping in SQLite's handler: we poll
    try:
        while True:
            try:
                conn.execute(BEGIN_WRITE)
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(random.uniform(*_POLL))
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On aiosqlite's thread: the statement from cursor to closed cursor."""
    if operation == BEGIN_WRITE:
        return _begin_write(conn)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # no driver cursor: each statement makes and closes its own on the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._arraysize = 1  # the DB-API default, what fetchmany() takes without a size
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        return None  # the driver cursor is closed already

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._statement(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._statement(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _statement(self, operation: Any, parameters: Any, *, many: bool) -> None:
        driver = self._connection
        outcome: _Outcome
        if getattr(self._adapt_connection, "inline", False):
            # a hot unit's connection (b24tel.db.lane.Lane): it holds the write lock, so the
            # statement runs in place, without a hand-off
            outcome = _run(driver._conn, operation, parameters, many)
        else:
            async with self._adapt_connection._execute_mutex:
                outcome = await driver._execute(_run, driver._conn, operation, parameters,
                                                many)  # fmt: skip
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows or ())

    def nextset(self) -> None:
        return None  # sqlite3 has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("inline",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.inline = False  # set by b24tel.db.hot.Lane on the connection it keeps

    def commit(self) -> None:
        if self.inline:
            self._connection._conn.commit()
        else:
            super().commit()

    def rollback(self) -> None:
        if self.inline:
            self._connection._conn.rollback()
        else:
            super().rollback()

    def in_transaction(self) -> bool:
        return bool(self._connection._conn.in_transaction)


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        # a pooled connection must not keep the process alive at exit (SQLAlchemy's stock
        # adapter does the same)
        if isinstance(connection, Thread):
            connection.daemon = True
        else:
            connection._thread.daemon = True
        return _Connection(self, await_(connection))


class OneHopDialect(SharedStatements, SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        import aiosqlite

        return _DBAPI(aiosqlite, sqlite3)


def available() -> bool:
    """The private hand-off this cursor uses exists in the installed aiosqlite."""
    import aiosqlite

    return callable(getattr(aiosqlite.Connection, "_execute", None)) and hasattr(
        aiosqlite.Connection, "_conn"
    )


registry.register(DRIVER.replace("+", "."), __name__, "OneHopDialect")
