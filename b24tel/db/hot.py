"""The hot path's unit of work: prebuilt Core statements, rows as tuples, no ORM.

A register costs a few statements that SQLite runs in microseconds; through the ORM each
one cost a few hundred (execution context, flush, identity map, result objects) and, on
SQLite, a thread hand-off more (docs/benchmarks.md, "Request throughput, round three").
Here a statement is compiled once per dialect (``Query``) and run through a ``Tx``:

- ``SqliteTx``: the driver's own ``sqlite3`` calls on one connection kept for these units
  (``Lane``). The write lock is taken without waiting when it is free — the common case —
  and otherwise on the connection's thread, so that waiting for another process's write
  never stops the event loop; then every statement and the COMMIT run in place: one unit
  of work, at most one hand-off. This process's writers already take turns
  (``Database.transaction``), so nothing else here waits for the lock meanwhile.
- ``CoreTx``: SQLAlchemy Core on a connection (PostgreSQL, and any ORM unit of work that
  calls a function written for a ``Tx`` — ``as_tx``).

Both hand out an ORM session on the same transaction (``await tx.session()``) for the rare
branches that stay on the ORM (a lead created by a call). Every value written passes the
same column check as an ORM flush (``b24tel.db.base.column_problem``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Column, Table, bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from b24tel.db import sqlite_driver
from b24tel.db.base import column_problem

Row = Sequence[Any]


@dataclass(frozen=True)
class _Bind:
    name: str  # the value's name in the parameters handed in
    default: Any
    required: bool
    process: Callable[[Any], Any] | None
    column: Column[Any] | None  # checked like an ORM flush (a written value)


@dataclass(frozen=True)
class Compiled:
    sql: str
    binds: tuple[_Bind, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for bind in self.binds:
            if bind.name in params:
                value = params[bind.name]
            elif bind.required:
                raise KeyError(f"no value for {bind.name}")
            else:
                value = bind.default
            if bind.column is not None and value is not None:
                problem = column_problem(bind.column.key.upper(), bind.column, value)
                if problem is not None:
                    raise problem
            out.append(bind.process(value) if bind.process is not None and value is not None
                       else value)  # fmt: skip
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            p(v) if p is not None and v is not None else v
            for p, v in zip(self.results, raw, strict=False)
        )


class Query:
    """A Core statement, compiled once per dialect into the driver's SQL (named binds in
    the driver's order, with their types' converters)."""

    def __init__(
        self, stmt: Executable, *, names: Mapping[str, str] | None = None, checked: bool = True
    ) -> None:
        self.stmt = stmt
        self._names = dict(names or {})  # a bind's name → the parameter it takes
        self._checked = checked  # the write check of an ORM flush on what it writes
        self._compiled: dict[str, Compiled] = {}

    def bind_values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters under the statement's own bind names (SQLAlchemy's execute)."""
        if not self._names:
            return dict(params)
        out = dict(params)
        for bind, name in self._names.items():
            if name in out:
                out[bind] = out.pop(name)
        return out

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> Compiled:
        c = cast(SQLCompiler, cast(ClauseElement, self.stmt).compile(dialect=dialect))
        written = _written_columns(self.stmt) if self._checked else {}
        binds = []
        for name in c.positiontup or ():
            param = c.binds[name]
            if param.expanding:
                raise ValueError(f"{name}: an expanding IN has no fixed SQL")
            processor = param.type.dialect_impl(dialect).bind_processor(dialect)
            required = param.required and param.value is None
            name_in = self._names.get(name, name)
            binds.append(
                _Bind(name_in, param.effective_value, required, processor, written.get(param.key))
            )
        columns: Sequence[Any] = (
            getattr(self.stmt, "selected_columns", None)
            or getattr(self.stmt, "_returning", None)
            or ()
        )
        results = tuple(
            col.type.dialect_impl(dialect).result_processor(dialect, None) for col in columns
        )
        return Compiled(c.string, tuple(binds), results)


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def insert(
    model: type[Any], columns: Sequence[str], *, returning: str | None = "id", checked: bool = True
) -> Query:
    """INSERT of ``columns`` (each a parameter of the same name), returning the new id.
    ``checked=False``: the caller has made the values fit (the request journal)."""
    table = table_of(model)
    stmt = sa_insert(table).values(
        {c: bindparam(f"new_{c}", type_=table.c[c].type) for c in columns}
    )
    if returning is not None:
        stmt = stmt.returning(table.c[returning])
    return Query(stmt, names={f"new_{c}": c for c in columns}, checked=checked)


def update(model: type[Any], key: str, columns: Sequence[str]) -> Query:
    """UPDATE of ``columns`` (parameters of the same names) on the row whose ``key`` is the
    parameter ``by``."""
    table = table_of(model)
    stmt = (
        sa_update(table)
        .where(table.c[key] == bindparam("by", type_=table.c[key].type))
        .values({c: bindparam(f"new_{c}", type_=table.c[c].type) for c in columns})
    )
    return Query(stmt, names={f"new_{c}": c for c in columns})


def _written_columns(stmt: Executable) -> dict[str, Column[Any]]:
    """The column each bind of an INSERT/UPDATE's values sets (by the bind's key)."""
    if not isinstance(stmt, UpdateBase):
        return {}
    out: dict[str, Column[Any]] = {}
    table = stmt.table
    for key, value in (getattr(stmt, "_values", None) or {}).items():
        name = key if isinstance(key, str) else key.key
        bind_key = getattr(value, "key", None)
        if bind_key is not None and name in table.c:
            out[bind_key] = cast(Column[Any], table.c[name])
    return out


class Tx(Protocol):
    """One unit of work's statements."""

    @property
    def dialect(self) -> str: ...
    @property
    def info(self) -> dict[str, Any]: ...
    async def rows(self, q: Query, **params: Any) -> list[Row]: ...
    async def first(self, q: Query, **params: Any) -> Row | None: ...
    async def run(self, q: Query, **params: Any) -> int: ...
    async def run_many(self, q: Query, rows: Sequence[Mapping[str, Any]]) -> None: ...
    async def session(self) -> AsyncSession: ...


async def scalar(tx: Tx, q: Query, **params: Any) -> Any:
    row = await tx.first(q, **params)
    return row[0] if row is not None else None


class CoreTx:
    """Core statements on a SQLAlchemy connection; the ORM session shares its transaction."""

    def __init__(self, conn: AsyncConnection, session: AsyncSession | None = None) -> None:
        self._conn = conn
        self._session = session
        self._info: dict[str, Any] = session.info if session is not None else {}

    @classmethod
    async def of(cls, session: AsyncSession) -> CoreTx:
        return cls(await session.connection(), session)

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    @property
    def info(self) -> dict[str, Any]:
        return self._info

    async def _execute(self, q: Query, params: Mapping[str, Any]) -> Any:
        if self._session is not None and (self._session.new or self._session.dirty):
            await self._session.flush()  # what the ORM holds back is seen by the statement
        compiled = q.compiled(self._conn.dialect)
        compiled.args(params)  # the write check; SQLAlchemy converts the values itself
        return await self._conn.execute(q.stmt, q.bind_values(params))

    async def rows(self, q: Query, **params: Any) -> list[Row]:
        return list((await self._execute(q, params)).all())

    async def first(self, q: Query, **params: Any) -> Row | None:
        return (await self._execute(q, params)).first()  # type: ignore[no-any-return]

    async def run(self, q: Query, **params: Any) -> int:
        return int((await self._execute(q, params)).rowcount)

    async def run_many(self, q: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = q.compiled(self._conn.dialect)
        for row in rows:
            compiled.args(row)
        await self._conn.execute(q.stmt, [q.bind_values(row) for row in rows])

    async def session(self) -> AsyncSession:
        if self._session is None:
            self._session = AsyncSession(bind=self._conn, expire_on_commit=False, autoflush=True)
            self._session.info.update(self._info)
            self._info = self._session.info
        return self._session


async def as_tx(where: AsyncSession | Tx) -> Tx:
    """A function written for a ``Tx``, called from an ORM unit of work."""
    if isinstance(where, AsyncSession):
        return await CoreTx.of(where)
    return where


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

    def _cursor(self, q: Query, params: Mapping[str, Any]) -> tuple[Compiled, sqlite3.Cursor]:
        if self._session is not None and (self._session.new or self._session.dirty):
            raise RuntimeError("flush the session before a statement of the unit reads")
        compiled = q.compiled(self._dialect)
        return compiled, self._raw.execute(compiled.sql, compiled.args(params))

    async def rows(self, q: Query, **params: Any) -> list[Row]:
        compiled, cursor = self._cursor(q, params)
        return [compiled.row(r) for r in cursor.fetchall()]

    async def first(self, q: Query, **params: Any) -> Row | None:
        compiled, cursor = self._cursor(q, params)
        found = cursor.fetchone()
        cursor.close()
        return compiled.row(found) if found is not None else None

    async def run(self, q: Query, **params: Any) -> int:
        return self._cursor(q, params)[1].rowcount

    async def run_many(self, q: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = q.compiled(self._dialect)
        self._raw.executemany(compiled.sql, [compiled.args(row) for row in rows])

    async def session(self) -> AsyncSession:
        """The ORM on this transaction: SQLAlchemy is told the transaction has begun (the
        connection's BEGIN listener sees the driver in one and sends nothing)."""
        if self._session is None:
            if not self._conn.in_transaction():
                await self._conn.begin()
            self._session = AsyncSession(bind=self._conn, expire_on_commit=False, autoflush=True)
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

    # WAL pages are copied back into the database file on the lane's thread, not by a
    # COMMIT on the event loop (a checkpoint writes and syncs megabytes)
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

    async def begin(self) -> SqliteTx:
        if self._checkpoint is not None:
            await _settled(self._checkpoint)
            self._checkpoint = None
        conn, raw = await self._open()
        try:
            raw.execute(sqlite_driver.BEGIN_WRITE)
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
        if self._commits % self.CHECKPOINT_EVERY == 0:
            self._checkpoint = asyncio.ensure_future(
                self._driver._execute(sqlite_driver.checkpoint, self._raw)
            )

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
