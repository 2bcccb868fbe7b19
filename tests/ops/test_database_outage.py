"""When the database goes away: requests get 503 `DATABASE_UNAVAILABLE` (or
`REQUEST_TIMEOUT` when the request deadline passes) with `Retry-After`, pages an HTML page
saying so, the log one line per transition and no traceback, and no wait is unbounded.

In-process tests hold the database's lock (SQLite's write lock, a PostgreSQL table lock);
the real-process tests stop and freeze a PostgreSQL cluster of their own
(tests/ops/pgcluster.py) under connectors doing whole call flows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24tel.app import create_app
from b24tel.config import Settings
from b24tel.db import outage
from b24tel.db.outage import Outage
from b24tel.journal import queries
from b24tel.telephony.models import Call
from tests.conftest import Harness, LiveServer
from tests.helpers import err, ok
from tests.web.test_pages import sign_in

REGISTER = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}


@contextlib.asynccontextmanager
async def held_lock(database_url: str) -> AsyncIterator[None]:
    """Another client holds what every write of calls needs."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        await conn.execute(text("LOCK TABLE tel_calls IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await conn.rollback()
    await engine.dispose()


@pytest.fixture
def tuning() -> dict[str, float]:
    return {}


@pytest.fixture
def settings(settings: Settings, tuning: dict[str, float]) -> Settings:
    return settings.replace(**tuning)


async def entries(h: Harness) -> list[Any]:
    await h.services.journal.flush()
    async with h.db.transaction(readonly=True) as s:
        found = await queries.entries(s, queries.Filter(limit=1000), h.services.clock.now())
    return list(found)


async def calls(h: Harness) -> int:
    async with h.db.transaction(readonly=True) as s:
        return int((await s.execute(select(func.count()).select_from(Call))).scalar_one())


QUICK = {"database_statement_timeout": 0.5, "database_pool_timeout": 0.5}


@pytest.mark.parametrize("tuning", [QUICK])
async def test_a_held_lock_answers_503_after_the_statement_timeout(
    harness: Harness, hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    register = hook + "telephony.externalCall.register"
    ok(await harness.client.post(register, json=REGISTER))
    before = await calls(harness)
    async with held_lock(harness.services.settings.effective_database_url):
        started = time.monotonic()
        answer = await harness.client.post(register, json=REGISTER)
        waited = time.monotonic() - started
        again = await harness.client.post(register, json=REGISTER)
    err(answer, 503, "DATABASE_UNAVAILABLE")
    assert answer.headers["retry-after"] == "5"
    assert "try again" in answer.json()["error_description"]
    err(again, 503, "DATABASE_UNAVAILABLE")
    assert waited < 4  # the statement timeout, not the 30 s of old
    ok(await harness.client.post(register, json={**REGISTER, "PHONE_NUMBER": "+79160005678"}))
    assert await calls(harness) == before + 1  # nothing of the refused ones was written
    # a wait that ran out is not an outage: one line, no "back"
    lines = [r.getMessage() for r in caplog.records if r.name == "b24tel.db"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("database did not answer in time (")
    assert lines[0].endswith("answered 503 DATABASE_UNAVAILABLE since the last such line: 1")
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # the journal and the metrics count them apart from real failures
    found = await entries(harness)
    refused = [e for e in found if e.error == "DATABASE_UNAVAILABLE"]
    assert len(refused) == 2 and {e.status for e in refused} == {503}
    metrics = harness.services.metrics.text().decode()
    assert 'method="telephony.externalcall.register",status="503"} 2.0' in metrics.lower()


@pytest.mark.parametrize(
    "tuning",
    [{"database_statement_timeout": 4.0, "database_pool_timeout": 4.0, "request_deadline": 1}],
)
async def test_a_slow_request_is_cut_at_the_deadline_and_rolled_back(
    harness: Harness, hook: str
) -> None:
    """The statement would wait 4 s; the request deadline answers after 1 s — over real
    HTTP, while the cut request is still waiting to roll back — and the register's unit of
    work is rolled back."""
    before = await calls(harness)
    with LiveServer(create_app(harness.services.settings)) as server:
        async with httpx.AsyncClient(base_url=server.url + hook, timeout=30) as client:
            ok(await client.post("server.time"))  # the caller is known before the lock
            async with held_lock(harness.services.settings.effective_database_url):
                started = time.monotonic()
                answer = await client.post("telephony.externalCall.register", json=REGISTER)
                waited = time.monotonic() - started
                await asyncio.sleep(4)  # the cut request's statement gives up meanwhile
            err(answer, 503, "REQUEST_TIMEOUT")
            assert answer.headers["retry-after"] == "5"
            assert "1 s (request_deadline)" in answer.json()["error_description"]
            # before the statement's 4 s: the deadline answered (1 s, plus the machine's
            # scheduling beside the other test workers)
            assert waited < 3.5, waited
            assert await calls(harness) == before
            ok(await client.post("telephony.externalCall.register", json=REGISTER))
    assert await calls(harness) == before + 1


@pytest.mark.parametrize("tuning", [QUICK])
async def test_pages_say_temporarily_unavailable(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    async with held_lock(harness.services.settings.effective_database_url):
        page = await harness.client.post(
            "/calls/test", data={"csrf": csrf}, headers={"accept": "text/html"}
        )
    assert page.status_code == 503, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "5"
    assert "Temporarily unavailable" in page.text and "DATABASE_UNAVAILABLE" in page.text


def test_failures_that_mean_the_database_is_away() -> None:
    class Canceled(Exception):
        sqlstate = "57014"

    class ShuttingDown(Exception):
        sqlstate = "57P01"

    def wrapped(cause: Exception) -> Exception:
        return sa_exc.DBAPIError("SELECT 1", None, cause)

    assert outage.away(wrapped(Canceled("statement timeout")), connecting=False) == "slow"
    assert outage.away(wrapped(ShuttingDown("terminating")), connecting=False) == "down"
    assert outage.away(TimeoutError(), connecting=False) == "slow"
    assert outage.away(TimeoutError(), connecting=True) == "down"
    assert outage.away(ConnectionRefusedError(111, "refused"), connecting=True) == "down"
    assert outage.away(ConnectionRefusedError(111, "refused"), connecting=False) is None
    assert outage.away(sa_exc.TimeoutError("QueuePool limit"), connecting=True) == "slow"
    locked = sa_exc.OperationalError("BEGIN", None, sqlite3.OperationalError("database is locked"))
    assert outage.away(locked, connecting=False) == "slow"
    unique = sa_exc.IntegrityError("INSERT", None, sqlite3.IntegrityError("UNIQUE failed"))
    assert outage.away(unique, connecting=False) is None
    assert outage.away(ValueError("x"), connecting=True) is None


def test_the_log_says_lost_still_down_and_back_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    state = Outage(lambda: now[0])
    caplog.set_level(logging.INFO, "b24tel.db")
    for second in range(25):
        now[0] = float(second)
        state.failed("down", ConnectionRefusedError(111, "Connect call failed"))
    state.answered()
    state.answered()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert messages[0].startswith("database unavailable (ConnectionRefusedError:")
    assert messages[1].startswith(
        "database still unavailable after 10 s; units of work refused so far: 11 ("
    )
    assert messages[2].startswith(
        "database still unavailable after 20 s; units of work refused so far: 21 ("
    )
    assert messages[3] == "database is back after 24.0 s; units of work refused meanwhile: 25"


def test_slow_answers_are_said_at_most_every_ten_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    state = Outage(lambda: now[0])
    caplog.set_level(logging.INFO, "b24tel.db")
    for tenth in range(150):
        now[0] = tenth / 10
        state.failed("slow", TimeoutError())
    state.answered()
    messages = [r.getMessage() for r in caplog.records]
    assert [m.rsplit(": ", 1)[1] for m in messages] == ["1", "100"]
    assert all("answered 503 DATABASE_UNAVAILABLE since the last such line" in m for m in messages)
    assert not state.down


def test_a_command_says_in_one_line_that_the_database_is_away(settings: Settings) -> None:
    import click

    from b24tel import errors
    from b24tel.cli.base import run_against_database

    async def away() -> None:
        raise errors.database_unavailable() from ConnectionRefusedError(111, "Connect failed")

    with pytest.raises(click.ClickException, match=r"cannot use the database .*Connect failed"):
        run_against_database(settings, away)
