"""The hot path's unit of work: prebuilt Core statements, rows as tuples, no ORM.

A register costs a few statements that SQLite runs in microseconds; through the ORM each
one cost a few hundred (execution context, flush, identity map, result objects) and, on
SQLite, a thread hand-off more (docs/benchmarks.md, "Request throughput, round three").
Here a statement is compiled once per dialect (``Query``) and run through a ``Tx``:

- ``SqliteTx`` (``b24tel.db.lane``): the driver's own ``sqlite3`` calls on one connection
  kept for these units, with at most one thread hand-off per unit of work.
- ``CoreTx``: SQLAlchemy Core on a connection (PostgreSQL, and any ORM unit of work that
  calls a function written for a ``Tx`` — ``as_tx``).

Both hand out an ORM session on the same transaction (``await tx.session()``) for the rare
branches that stay on the ORM (a lead created by a call). Every value written passes the
same column check as an ORM flush (``b24tel.db.base.column_problem``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import JSON, Column, Table, bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

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
    results: _Results

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
            # as SQLAlchemy does: None through the converter too (JSON's None is 'null')
            out.append(bind.process(value) if bind.process is not None else value)
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            p(v) if p is not None and v is not None else v
            for p, v in zip(self.results.get(), raw, strict=False)
        )


class _Results:
    """The result columns' converters, made when first needed: only the driver-level
    ``SqliteTx`` reads rows itself (SQLAlchemy converts ``CoreTx``'s, and asyncpg's
    converters need the column's type as the server sent it)."""

    def __init__(self, columns: Sequence[Any], dialect: Dialect) -> None:
        self._columns, self._dialect = columns, dialect
        self._made: tuple[Callable[[Any], Any] | None, ...] | None = None

    def get(self) -> tuple[Callable[[Any], Any] | None, ...]:
        if self._made is None:
            d = self._dialect
            self._made = tuple(c.type.dialect_impl(d).result_processor(d, None)
                               for c in self._columns)  # fmt: skip
        return self._made


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
        return Compiled(c.string, tuple(binds), _Results(columns, dialect))


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


_INSERT_ALL: dict[type[Any], tuple[Query, tuple[Column[Any], ...]]] = {}


def _insert_all(model: type[Any]) -> tuple[Query, tuple[Column[Any], ...]]:
    """An INSERT of every column of ``model`` but its generated id (built once)."""
    found = _INSERT_ALL.get(model)
    if found is None:
        columns = tuple(
            c for c in table_of(model).columns if not (c.primary_key and c.autoincrement is True)
        )
        if any(isinstance(c.type, JSON) for c in columns):
            # a flush leaves an unset JSON column NULL; Core writes None as JSON 'null'
            raise TypeError(f"{model.__name__}: add() is for tables without JSON columns")
        found = _INSERT_ALL[model] = (insert(model, [c.key for c in columns]), columns)
    return found


async def add(tx: Tx, obj: Any) -> int:
    """Write a new ORM object through Core, as a flush would: scalar column defaults filled
    in (on the object too), the new id set on it and returned. The object stays outside
    any session."""
    query, columns = _insert_all(type(obj))
    values = {}
    for column in columns:
        value = getattr(obj, column.key)
        default = column.default
        if value is None and default is not None and getattr(default, "is_scalar", False):
            value = default.arg  # type: ignore[attr-defined]
            setattr(obj, column.key, value)
        values[column.key] = value
    obj.id = int(await scalar(tx, query, **values))
    return int(obj.id)


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


# session.info: the Tx a session was handed out by (its statements go through that Tx)
TX_KEY = "b24tel.tx"


async def as_tx(where: AsyncSession | Tx) -> Tx:
    """A function written for a ``Tx``, called from an ORM unit of work."""
    if isinstance(where, AsyncSession):
        return where.info.get(TX_KEY) or await CoreTx.of(where)
    return where
