"""Recording retention (`recording_max_age_days`): old recordings and their earlier versions
lose their bytes, the call stays and its RECORD_FILE_ID answers "deleted by retention";
the server's maintenance job runs it on one instance of many; a run SIGKILLed in the middle
is finished by the next."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.ops import leases
from b24tel.ops.maintenance import Maintenance
from b24tel.recordings.models import RecordingFile
from tests.api.test_recordings_ops import cli_env, run
from tests.conftest import FIXTURES, Harness, make_harness, reset_database
from tests.helpers import err, ok
from tests.web.test_pages import sign_in

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

ATTACH = "telephony.externalCall.attachRecord"
GONE = "was deleted by retention (recording_max_age_days)"


async def recorded_call(harness: Harness, hook: str, *fixtures: str) -> tuple[str, list[int]]:
    """A finished call with each fixture attached in turn (the last one is current)."""
    reg = ok(
        await harness.call(
            hook,
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+74951234567", "TYPE": 2},
        )
    )["result"]
    call_id = reg["CALL_ID"]
    ok(
        await harness.call(
            hook,
            "telephony.externalCall.finish",
            {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 30},
        )
    )
    files = []
    for name in fixtures:
        content = base64.b64encode((FIXTURES / name).read_bytes()).decode()
        answer = ok(
            await harness.call(
                hook, ATTACH, {"CALL_ID": call_id, "FILENAME": name, "FILE_CONTENT": content}
            )
        )
        files.append(int(answer["result"]["FILE_ID"]))
    return call_id, files  # fmt: skip


async def age(db: Database, ids: list[int], days: int) -> None:
    """Files stored `days` ago."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    async with db.transaction() as s:
        await s.execute(
            update(RecordingFile).where(RecordingFile.id.in_(ids)).values(created_at=when)
        )


async def test_old_recordings_go_with_their_versions_and_the_call_stays(
    harness: Harness, hook: str, settings: Settings
) -> None:
    old_call, (first, second) = await recorded_call(
        harness, hook, "call-8k-mono.wav", "call-32k-mono.mp3"
    )
    _, (third,) = await recorded_call(harness, hook, "call-8k-stereo.wav")
    await age(harness.db, [first, second], 40)
    await age(harness.db, [third], 29)
    code, out = await asyncio.to_thread(run, settings, "gc")
    assert code == 0 and "0 item(s) removed" in out  # recording_max_age_days is 0: keep
    code, out = await asyncio.to_thread(run, settings, "gc", "--max-age-days", "30")
    assert code == 0, out
    assert f"removed file {first} (stored " in out and f"removed file {second} (stored " in out
    assert f"removed file {third}" not in out
    assert "2 item(s) removed" in out

    stats = ok(
        await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": old_call}})
    )["result"]
    assert stats[0]["RECORD_FILE_ID"] == second  # the call stays, pointing at its file
    answer = await harness.call(hook, "disk.file.get", {"id": second})
    err(answer, 400, "ERROR_NOT_FOUND", f"File `{second}` {GONE}")
    download = await harness.client.get(f"{hook}download.json?id={second}")
    err(download, 404, "ERROR_NOT_FOUND", f"File `{second}` {GONE}")
    # a file gone for another reason keeps the plain answer
    ok(await harness.call(hook, "disk.file.get", {"id": third}))
    async with harness.db.transaction(readonly=True) as s:
        rows = {r.id: r for r in (await s.execute(select(RecordingFile))).scalars()}
    assert rows[first].deleted_reason == rows[second].deleted_reason == "retention"
    assert rows[third].deleted_at is None
    keys = {o.key async for o in harness.services.recordings.storage.list()}
    assert keys == {rows[third].storage_key}
    code, out = await asyncio.to_thread(run, settings, "verify")
    assert code == 0, out
    code, out = await asyncio.to_thread(run, settings, "gc", "--max-age-days", "30")
    assert "0 item(s) removed" in out  # nothing left to do
    # the call's page says so, and offers no player
    await sign_in(harness, 1)
    page = (await harness.client.get(f"/calls/{old_call}")).text
    assert f"The recording {GONE}." in page and 'id="player"' not in page


async def test_the_maintenance_job_runs_on_one_instance(settings: Settings, clock: Clock) -> None:
    aged = Settings.load(
        env={},
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key="test-secret",
        recording_max_age_days=30,
        maintenance_interval=3600,
    )
    async with make_harness(aged, clock) as harness:
        hook = await harness.add_webhook(
            await harness.add_user(name="Admin", admin=True, inner_number="101"),
            code="secretcode",
        )
        _, (file_id,) = await recorded_call(harness, hook, "call-8k-mono.wav")
        await age(harness.db, [file_id], 31)
        running = harness.app.state.maintenance
        assert running.wanted
        other = Maintenance(harness.services)  # a second instance on the same database
        await leases.release(harness.db, "maintenance", running.holder)
        assert await other.run_once() is True
        assert await running.run_once() is False  # the other instance holds the lease
        assert await other.run_once() is True  # and keeps it
        async with harness.db.transaction(readonly=True) as s:
            row = await s.get(RecordingFile, file_id)
        assert row is not None and row.deleted_reason == "retention"


async def test_a_lease_goes_to_one_claimant_and_lapses(harness: Harness) -> None:
    now = dt.datetime.now(dt.UTC)
    db = harness.db
    claims = await asyncio.gather(*(leases.claim(db, "job", f"h{i}", now, 60) for i in range(8)))
    assert claims.count(True) == 1
    holder = f"h{claims.index(True)}"
    later = now + dt.timedelta(seconds=30)
    assert not await leases.claim(db, "job", "late", later, 60)
    assert await leases.claim(db, "job", holder, later, 60)  # renewed
    lapsed = later + dt.timedelta(seconds=61)  # the holder died: the lease lapses
    assert await leases.claim(db, "job", "late", lapsed, 60)


def stored_objects(settings: Settings) -> int:
    """Recording objects in the local storage (not the files of writes under way)."""
    objects = Path(settings.data_dir) / "recordings"
    return sum(
        1 for p in objects.rglob("*") if p.is_file() and p.relative_to(objects).parts[0] != ".tmp"
    )


def test_a_killed_run_is_finished_by_the_next(settings: Settings, clock: Clock) -> None:
    total = 150

    async def seed() -> list[int]:
        async with make_harness(settings, clock) as harness:
            ids = [await harness.store_recording("silence-1s.wav") for _ in range(total)]
            await age(harness.db, ids, 100)
            return ids

    ids = asyncio.run(seed())

    def stored() -> int:
        return stored_objects(settings)

    assert stored() == total
    proc = subprocess.Popen(
        [sys.executable, "-m", "b24tel", "recordings", "gc", "--max-age-days", "30",
         "--batch-size", "1"],
        env={**os.environ, **cli_env(settings)},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while stored() > total - 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    left = stored()
    assert 0 < left < total, left  # killed in the middle

    async def marked() -> int:
        db = Database(settings.effective_database_url)
        async with db.transaction(readonly=True) as s:
            count = (
                await s.execute(
                    select(func.count()).where(RecordingFile.deleted_reason == "retention")
                )
            ).scalar_one()
        await db.dispose()
        return int(count)

    # every row marked has lost its object; none marked keeps one
    marked_before = asyncio.run(marked())
    assert 0 < marked_before <= total - left
    code, out = run(settings, "gc", "--max-age-days", "30", "--batch-size", "7")
    assert code == 0, out
    assert stored() == 0 and asyncio.run(marked()) == total
    code, out = run(settings, "verify")
    assert code == 0, out
    assert "0 file(s) checked" in out
    assert len(ids) == total

    async def clean() -> None:
        db = Database(settings.effective_database_url)
        await reset_database(db)
        await db.dispose()

    asyncio.run(clean())
