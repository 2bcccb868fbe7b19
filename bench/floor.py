"""The SQL floor of a call flow: what the database alone allows.

The statements one register (and one full flow: register, finish, attachRecord) executes are
recorded through the real app in-process (SQLAlchemy's cursor events, BEGIN and COMMIT
included), then replayed through the raw driver — ``sqlite3`` or ``asyncpg`` — in a tight
loop with no HTTP, no ORM and no Python of ours in between. Values that must be unique (the
CALL_ID, a recording's storage key) get a fresh suffix per replay, so every replay does the
same inserts the server does.

SQLite is one writer: its floor is one connection replaying back to back. PostgreSQL's is
as many connections as a server process's pool (30), replaying at once.

    python bench/floor.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_postgres

from b24tel.simulate import wav

RECORD_B64 = base64.b64encode(wav(100_000)).decode()
KEY = re.compile(r"^\d{4}-\d{2}/[0-9a-f]{32}\.\w+$")
PG_POOL = 30  # b24tel.db.engine.POOL_SIZE


@dataclass
class Statement:
    sql: str
    params: Any
    many: bool = False
    literal: bool = False  # the SQL as SQLite ran it, values written into it


@dataclass
class Recorded:
    statements: list[Statement]
    unique: list[str]  # values a replay must make unique
    requests: int


def register_params(index: int) -> dict[str, Any]:
    rng = random.Random(index)
    return {
        "USER_ID": 1,
        "PHONE_NUMBER": f"+7 9{rng.randrange(10**9):09d}",
        "TYPE": 2,
        "LINE_NUMBER": "74950000000",
        "EXTERNAL_CALL_ID": f"floor-{index}-{rng.random()}",
        "SHOW": 0,
    }


async def record_calls(
    database_url: str, kind: str
) -> tuple[dict[str, list[Statement]], list[str]]:
    """The statements of one register (or one full flow), per method, and the values a replay
    must make unique. Recorded through the real app in-process on a fresh database."""
    import httpx
    from sqlalchemy import event

    from b24tel.app import create_app
    from b24tel.cli.running import bootstrap
    from b24tel.config import Settings
    from b24tel.db import migrate

    with tempfile.TemporaryDirectory() as data:
        url = database_url or f"sqlite+aiosqlite:///{data}/b24tel.db"
        migrate.upgrade(url)
        settings = Settings.load(env={}, data_dir=data, database_url=url, journal_enabled=False)
        hook = await bootstrap(settings)
        assert hook, "the floor needs a fresh database"
        app = create_app(settings)
        calls: dict[str, list[Statement]] = {}
        bucket: list[list[Statement] | None] = [None]
        engine = app.state.services.db.engine.sync_engine
        sqlite = engine.dialect.name == "sqlite"

        def keep(st: Statement) -> None:
            if bucket[0] is not None:
                bucket[0].append(st)

        @event.listens_for(engine, "before_cursor_execute")
        def executed(conn, cursor, sql, params, context, many):  # type: ignore[no-untyped-def]
            if not sqlite:
                keep(Statement(sql, params, many))

        def traced(sql: str) -> None:
            if not sql.startswith("PRAGMA"):
                keep(Statement(sql, None, literal=True))

        @event.listens_for(engine, "connect")
        def connected(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # SQLite: every statement as the driver ran it, the hot path's own calls on
            # sqlite3 (b24tel.db.hot) as well as SQLAlchemy's
            if sqlite:
                dbapi_conn._connection._conn.set_trace_callback(traced)

        @event.listens_for(engine, "begin")
        def began(conn):  # type: ignore[no-untyped-def]
            if not sqlite:  # SQLite's BEGIN IMMEDIATE is a statement of ours
                keep(Statement("BEGIN", None))

        @event.listens_for(engine, "commit")
        def committed(conn):  # type: ignore[no-untyped-def]
            if not sqlite:
                keep(Statement("COMMIT", None))

        path = "/rest/" + hook.split("/rest/", 1)[1]
        unique: list[str] = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:

                async def call(method: str, params: dict[str, Any], recorded: bool) -> Any:
                    bucket[0] = calls.setdefault(method, []) if recorded else None
                    answer = await client.post(
                        path + "telephony.externalCall." + method, json=params
                    )
                    bucket[0] = None
                    body: dict[str, Any] = answer.json()
                    assert "result" in body, body
                    return body["result"]

                for index in range(2):  # the second flow is the one recorded: line exists
                    recorded = index == 1
                    call_id = (await call("register", register_params(index), recorded))["CALL_ID"]
                    if kind == "flow":
                        finish = {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 42}
                        await call("finish", finish, recorded)
                        attach = {
                            "CALL_ID": call_id,
                            "FILENAME": "c.wav",
                            "FILE_CONTENT": RECORD_B64,
                        }
                        await call("attachRecord", attach, recorded)
                unique.append(call_id)
        for st in (st for statements in calls.values() for st in statements):
            for value in _values(st.params) + _quoted(st.sql if st.literal else ""):
                if isinstance(value, str) and KEY.match(value) and value not in unique:
                    unique.append(value)
        return calls, unique


async def _record(database_url: str, kind: str) -> Recorded:
    calls, unique = await record_calls(database_url, kind)
    statements = [st for part in calls.values() for st in part]
    return Recorded(statements, unique, len(calls))


def _quoted(sql: str) -> list[str]:
    return re.findall(r"'([^']*)'", sql)


def _values(params: Any) -> list[Any]:
    if params is None:
        return []
    if isinstance(params, dict):
        return list(params.values())
    if isinstance(params, (list, tuple)):
        out: list[Any] = []
        for p in params:
            out.extend(_values(p) if isinstance(p, (list, tuple, dict)) else [p])
        return out
    return [params]


def _fresh(params: Any, unique: list[str], suffix: str) -> Any:
    def one(value: Any) -> Any:
        if isinstance(value, str):
            for u in unique:
                if u in value:
                    value = value.replace(u, u + suffix)
        return value

    if params is None:
        return None
    if isinstance(params, dict):
        return {k: one(v) for k, v in params.items()}
    if isinstance(params, list):
        return [
            _fresh(p, unique, suffix) if isinstance(p, (list, tuple)) else one(p) for p in params
        ]
    if isinstance(params, tuple):
        return tuple(one(p) for p in params)
    return one(params)


def sqlite_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def run_sqlite(
    conn: sqlite3.Connection, statements: list[Statement], unique: list[str], suffix: str
) -> None:
    """One replay of ``statements``, unique values given ``suffix``."""
    for st in statements:
        if st.sql == "COMMIT":
            conn.execute("COMMIT")
        elif st.literal:
            conn.execute(_fresh(st.sql, unique, suffix)).fetchall()
        elif st.many:
            conn.executemany(st.sql, _fresh(st.params, unique, suffix))
        else:
            conn.execute(st.sql, _fresh(st.params, unique, suffix) or ()).fetchall()


def replay_sqlite(path: str, rec: Recorded, seconds: float) -> float:
    """Flows per second, one connection back to back."""
    conn = sqlite_connection(path)
    done, deadline, index = 0, time.perf_counter() + seconds, 0
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        index += 1
        run_sqlite(conn, rec.statements, rec.unique, f"-f{index}")
        done += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return done / elapsed


async def run_pg(conn: Any, statements: list[Statement], unique: list[str], suffix: str) -> None:
    """One replay of ``statements`` on an asyncpg connection, unique values given ``suffix``."""
    for st in statements:
        if st.sql in ("BEGIN", "COMMIT"):
            await conn.execute(st.sql)
        elif st.many:
            await conn.executemany(st.sql, _fresh(st.params, unique, suffix))
        else:
            await conn.fetch(st.sql, *(_fresh(st.params, unique, suffix) or ()))


def asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def replay_pg(url: str, rec: Recorded, seconds: float, connections: int) -> float:
    import asyncpg

    dsn = asyncpg_dsn(url)
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    deadline = time.perf_counter() + seconds
    counter = [0]

    async def worker(conn: Any, wid: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            counter[0] += 1
            await run_pg(conn, rec.statements, rec.unique, f"-p{wid}-{counter[0]}")
            done += 1
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(worker(c, i) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for c in conns:
        await c.close()
    return sum(counts) / elapsed


def floor(kind: str, database_url: str = "", seconds: float = 5.0) -> tuple[float, int]:
    """(requests per second the database alone allows for `kind`, statements per flow)."""
    if not database_url:
        with tempfile.TemporaryDirectory() as data:
            url = f"sqlite+aiosqlite:///{data}/floor.db"
            rec = asyncio.run(_record(url, kind))
            rate = replay_sqlite(f"{data}/floor.db", rec, seconds)
    else:
        rec = asyncio.run(_record(database_url, kind))
        rate = asyncio.run(replay_pg(database_url, rec, seconds, PG_POOL))
    return rate * rec.requests, len(rec.statements)


def pg_floor(kind: str, seconds: float) -> tuple[float, int] | None:
    with bench_postgres() as url:
        return floor(kind, url, seconds) if url is not None else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    for kind in ("register", "flow"):
        rate, count = floor(kind, "", args.seconds)
        print(f"sqlite     {kind:9} floor {rate:8.0f} req/s ({count} statements per {kind})")
        pg = pg_floor(kind, args.seconds)
        if pg:
            print(f"postgresql {kind:9} floor {pg[0]:8.0f} req/s ({pg[1]} statements per {kind})")


if __name__ == "__main__":
    main()
