"""The hot path's per-process copies of users, lines and event bindings (b24tel/db/cache.py):
a change made by another process — the CLI, another instance on the same database — is
used by the very next request, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from b24tel.app import create_app
from b24tel.config import Settings
from b24tel.db.cache import CacheVersion, cached
from b24tel.db.hot import as_tx, update
from b24tel.events.models import Delivery
from b24tel.telephony import repository as telephony_repo
from b24tel.telephony.models import Call, ExternalLine
from b24tel.users.models import User
from tests.conftest import Harness
from tests.events.conftest import FAST, installed_app
from tests.helpers import err, ok

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

INACTIVE = "User is not found or is not active"


async def cli(settings: Settings, *args: str) -> str:
    """``b24tel`` in its own process on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    env |= {
        "B24TEL_DATABASE_URL": settings.effective_database_url,
        "B24TEL_DATA_DIR": settings.data_dir,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "b24tel", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode().strip()


@contextlib.asynccontextmanager
async def other_instance(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database (its own connections and copies)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            yield client


async def register(h: Harness, hook: str, **params: Any) -> httpx.Response:
    params = {"USER_ID": 1, "PHONE_NUMBER": "+7 916 000-12-34", "TYPE": 2, **params}
    return await h.call(hook, "telephony.externalCall.register", params)


async def test_a_user_changed_through_the_cli(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob", inner_number="102")
    ok(await register(harness, hook, USER_ID=bob))
    err(await register(harness, hook, USER_ID=0, USER_PHONE_INNER="103"), 400, "ERROR_CORE")
    assert len(harness.db.caches) > 0  # the answers above are kept

    await cli(harness.services.settings, "users", "deactivate", str(bob))
    err(await register(harness, hook, USER_ID=bob), 400, "ERROR_CORE", INACTIVE)
    await cli(harness.services.settings, "users", "activate", str(bob))
    ok(await register(harness, hook, USER_ID=bob))

    # an extension no one had: the "no one" kept is dropped with the change
    await cli(harness.services.settings, "users", "update", str(bob), "--inner-number", "103")
    call = ok(await register(harness, hook, USER_ID=0, USER_PHONE_INNER="103"))["result"]
    async with harness.db.transaction() as s:
        owner = await s.scalar(select(Call.user_id).where(Call.call_id == call["CALL_ID"]))
    assert owner == bob


async def test_a_line_deleted_by_another_instance(harness: Harness, hook: str) -> None:
    number = "74950001111"
    ok(await register(harness, hook, LINE_NUMBER=number))
    ok(await register(harness, hook, LINE_NUMBER=number, PHONE_NUMBER="+7 916 000-00-01"))

    async with other_instance(harness.services.settings) as other:
        gone = await other.post(hook + "telephony.externalLine.delete", json={"NUMBER": number})
        assert ok(gone)["result"] == []

    # the next register makes the line again and files the call on the new row
    call = ok(await register(harness, hook, LINE_NUMBER=number, PHONE_NUMBER="+7 916 000-00-02"))
    async with harness.db.transaction() as s:
        line = await s.scalar(select(ExternalLine.id).where(ExternalLine.number == number))
        filed = await s.scalar(
            select(Call.external_line_id).where(Call.call_id == call["result"]["CALL_ID"])
        )
    assert line is not None and filed == line


async def _deliveries(h: Harness, event: str) -> int:
    async with h.db.transaction() as s:
        count = select(func.count()).select_from(Delivery).where(Delivery.event == event)
        return int(await s.scalar(count) or 0)


async def test_event_bindings_changed_elsewhere(settings: Settings, harness: Harness) -> None:
    # deliveries only queued here: the handler is never called (no delivery worker needed)
    settings = settings.replace(**FAST)
    hook_owner = await harness.add_user(name="Admin", admin=True, inner_number="101")
    hook = await harness.add_webhook(hook_owner)
    app = await installed_app(harness, hook_owner)
    ok(await register(harness, hook))
    assert await _deliveries(harness, "ONVOXIMPLANTCALLINIT") == 0

    async with other_instance(settings) as other:
        bound = await other.post(
            "/rest/event.bind",
            json={"event": "ONVOXIMPLANTCALLINIT", "handler": "http://127.0.0.1:9/h",
                  "auth": app.token},
        )  # fmt: skip
        assert ok(bound)["result"] is True
    ok(await register(harness, hook, PHONE_NUMBER="+7 916 000-00-03"))
    assert await _deliveries(harness, "ONVOXIMPLANTCALLINIT") == 1

    await cli(harness.services.settings, "apps", "uninstall", str(app.app.id))
    ok(await register(harness, hook, PHONE_NUMBER="+7 916 000-00-04"))
    assert await _deliveries(harness, "ONVOXIMPLANTCALLINIT") == 1


class Loads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        return "value"


async def test_kept_only_after_commit(harness: Harness) -> None:
    db, load = harness.db, Loads()
    with pytest.raises(RuntimeError):
        async with db.hot() as tx:
            await cached(tx, "users", "probe", load)
            raise RuntimeError("rolled back")
    assert len(db.caches) == 0
    for _ in range(3):
        async with db.hot() as tx:
            assert await cached(tx, "users", "probe", load) == "value"
    assert load.count == 2  # read once more after the rollback, then from the copy


async def test_a_unit_that_changes_a_cached_table_is_not_believed(harness: Harness) -> None:
    """What a unit read after its own change is dropped by the next unit: the change moved
    the version past the one the unit read."""
    db, load = harness.db, Loads()
    uid = await harness.add_user(name="Ann")
    async with db.hot() as tx:
        await cached(tx, "users", "probe", load)
        await tx.run(update(User, "id", ["name"]), by=uid, name="Anna")
    async with db.hot() as tx:
        await cached(tx, "users", "probe", load)
    assert load.count == 2
    async with db.hot() as tx:
        await cached(tx, "users", "probe", load)
    assert load.count == 2


async def test_units_of_work_that_are_not_hot_read_the_database(harness: Harness) -> None:
    load = Loads()
    for _ in range(2):
        async with harness.db.transaction() as s:
            await cached(await as_tx(s), "users", "probe", load)
    assert load.count == 2 and len(harness.db.caches) == 0


async def test_what_a_unit_read_before_a_change_is_not_kept(harness: Harness) -> None:
    """PostgreSQL runs units side by side: one that read the versions before another process
    changed a table keeps nothing once a later unit has seen the change."""
    if harness.db.is_sqlite:
        pytest.skip("SQLite's hot units take turns")
    db, load = harness.db, Loads()
    async with db.hot() as early:
        await cached(early, "users", "probe", load)
        await harness.add_user(name="Cid")  # commits on a connection of its own
        async with db.hot() as later:
            await cached(later, "users", "other", load)
    async with db.hot() as tx:
        await cached(tx, "users", "probe", load)
    assert load.count == 3


async def test_a_statement_that_changes_nothing_keeps_the_copies(
    harness: Harness, hook: str
) -> None:
    """Another request making the same line a moment later (INSERT … ON CONFLICT DO
    NOTHING) changes no row: the version stays, and on PostgreSQL no unit of work waits on
    its row until that request commits."""
    number = "74950003333"
    ok(await register(harness, hook, LINE_NUMBER=number))

    async def lines_version() -> int:
        async with harness.db.transaction() as s:
            found = select(CacheVersion.version).where(CacheVersion.name == "lines")
            return int(await s.scalar(found) or 0)

    before = await lines_version()
    async with harness.db.hot() as tx:
        await telephony_repo.add_line_if_missing(tx, {
            "owner": 0, "number": number, "name": None, "crm_auto_create": "Y",
            "normalized_number": number, "created_at": harness.services.clock.now(),
        })  # fmt: skip
    assert await lines_version() == before
