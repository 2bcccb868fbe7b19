"""A pooled PostgreSQL connection is checked before use, without a round trip while it is
in use (``b24tel.db.engine._liveness``): a connection the server ended is replaced, one
idle for long is pinged, a busy one goes straight to work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from b24tel.db import engine as engine_module
from b24tel.db.engine import Database, Limits
from b24tel.errors import ApiError
from tests.conftest import _admin
from tests.ops.proxy import TcpProxy

PING = ";"  # SQLAlchemy's ping for asyncpg: BEGIN, this empty query, ROLLBACK


@pytest.fixture
def pg_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection pool")
    return database_url


async def _unit(db: Database) -> tuple[int, Any]:
    """One unit of work: its backend's pid and the driver's connection."""
    async with db.transaction(readonly=True) as session:
        conn = await session.connection()
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        raw = (await conn.get_raw_connection()).driver_connection
    return pid, raw


async def _queries_of_units(db: Database, units: int) -> list[str]:
    _, raw = await _unit(db)
    seen: list[str] = []
    raw.add_query_logger(lambda record: seen.append(record.query))
    for _ in range(units):
        await _unit(db)
    return seen


async def test_a_busy_pooled_connection_goes_to_work_without_a_ping(pg_url: str) -> None:
    db = Database(pg_url, pool_size=1)
    try:
        seen = await _queries_of_units(db, 3)
    finally:
        await db.dispose()
    # what the driver sends outside prepared statements: each unit's BEGIN and COMMIT only
    assert seen == ["BEGIN;", "COMMIT;"] * 3, seen


async def test_a_connection_idle_for_long_is_pinged_first(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
    db = Database(pg_url, pool_size=1)
    try:
        seen = await _queries_of_units(db, 2)
    finally:
        await db.dispose()
    assert seen == ["BEGIN;", PING, "ROLLBACK;", "BEGIN;", "COMMIT;"] * 2, seen


async def test_a_connection_the_server_ended_is_replaced_before_use(pg_url: str) -> None:
    db = Database(pg_url, pool_size=1)
    try:
        pid, raw = await _unit(db)
        await _admin(pg_url, f"SELECT pg_terminate_backend({pid})")
        for _ in range(250):  # asyncpg reads the server's goodbye as soon as the loop runs
            if raw.is_closed():
                break
            await asyncio.sleep(0.02)
        assert raw.is_closed()
        again, _ = await _unit(db)  # no DATABASE_UNAVAILABLE: a new connection served it
    finally:
        await db.dispose()
    assert again != pid


async def test_a_connection_that_went_silent_is_not_used_again(pg_url: str) -> None:
    """A connection a firewall forgot looks open; once a statement on it got no answer, the
    next unit of work opens a new one instead of waiting on it again."""
    url = make_url(pg_url)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        db = Database(through, pool_size=1, limits=Limits(statement=0.2))
        try:
            pid, _ = await _unit(db)
            proxy.silence()
            with pytest.raises(ApiError) as refused:
                await _unit(db)
            assert refused.value.code == "DATABASE_UNAVAILABLE"
            again, _ = await _unit(db)
        finally:
            await db.dispose()
    assert again != pid
