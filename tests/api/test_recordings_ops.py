"""`b24tel recordings verify|gc`, retention of replaced versions, and crash safety: a process
SIGKILLed while storing a recording leaves no row pointing at a partial object."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24tel.cli.main import cli
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.recordings.models import RecordingFile
from b24tel.recordings.service import Recordings
from b24tel.simulate import wav_header
from tests.conftest import Harness, reset_database


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "B24TEL_DATABASE_URL": settings.effective_database_url,
        "B24TEL_DATA_DIR": settings.data_dir,
    }


def run(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner(env=cli_env(settings)).invoke(cli, ["recordings", *args])
    return result.exit_code, result.output


async def test_verify_and_gc(harness: Harness, settings: Settings) -> None:
    first = await harness.store_recording("call-8k-mono.wav")
    second = await harness.store_recording("call-32k-mono.mp3")
    store = harness.services.recordings
    async with harness.db.transaction() as s:
        new = await s.get(RecordingFile, second)
        await store.mark_replaced(s, first, new)
    code, out = await asyncio.to_thread(run, settings, "verify")
    assert code == 0 and "2 file(s) checked, 0 problem(s)" in out
    # an orphan object, a corrupted object, a replaced version past retention
    await store.storage.store("2026-03/orphan.mp3", _one(b"junk"))
    async with harness.db.transaction() as s:
        row = await s.get(RecordingFile, second)
        key = row.storage_key
    await store.storage.store(key, _one(b"x" * row.size))
    code, out = await asyncio.to_thread(run, settings, "verify")
    assert code == 1
    assert "object 2026-03/orphan.mp3 (4 bytes) has no file row" in out
    assert f"file {second}: object {key} has a different sha256" in out
    code, out = await asyncio.to_thread(run, settings, "gc")
    assert code == 0 and "0 item(s) removed" in out  # nothing is old enough yet
    code, out = await asyncio.to_thread(
        run, settings, "gc", "--orphan-age", "0", "--retention-days", "0"
    )
    assert "removed orphaned object 2026-03/orphan.mp3" in out
    assert f"removed file {first} (replaced" in out
    async with harness.db.transaction(readonly=True) as s:
        assert (await s.get(RecordingFile, first)).deleted_at is not None


async def _one(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def test_replaced_versions_kept_within_retention(
    harness: Harness, settings: Settings
) -> None:
    first = await harness.store_recording("call-8k-mono.wav")
    second = await harness.store_recording("call-8k-stereo.wav")
    async with harness.db.transaction() as s:
        await harness.services.recordings.mark_replaced(
            s, first, await s.get(RecordingFile, second)
        )
    code, out = await asyncio.to_thread(run, settings, "gc", "--orphan-age", "0")
    assert code == 0 and "0 item(s) removed" in out
    code, _ = await asyncio.to_thread(run, settings, "verify")
    assert code == 0


CRASH_SCRIPT = textwrap.dedent("""
    import asyncio, os, sys, time
    from b24tel.recordings.service import Recordings
    from b24tel.clock import Clock
    from b24tel.config import Settings
    from b24tel.db.engine import Database

    STAGE = sys.argv[1]
    settings = Settings.load()
    header = open(sys.argv[2], "rb").read()[:44]

    async def body():
        yield header
        for i in range(400):  # 400 MB of silence, announced as it goes
            yield b"\\0" * (1024 * 1024)
            if i == 20 and STAGE == "streaming":
                print("STREAMING", flush=True)
                await asyncio.sleep(60)

    async def main():
        store = Recordings.open(settings, Clock())
        stored = await store.from_stream(body(), "2026-03")
        print("STORED", flush=True)
        await asyncio.sleep(60)  # killed before the row is committed

    asyncio.run(main())
""")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["streaming", "stored"])
def test_sigkill_while_storing(settings: Settings, tmp_path: Path, stage: str) -> None:
    async def reset() -> None:
        db = Database(settings.effective_database_url)
        await reset_database(db)
        await db.dispose()

    asyncio.run(reset())
    wav = tmp_path / "header.wav"
    # a WAV header that declares 400 MB of 16-bit mono audio
    wav.write_bytes(wav_header(400 * 1024 * 1024))
    env = {**os.environ, **cli_env(settings)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, stage, str(wav)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == stage.upper(), line
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    async def check() -> tuple[int, int]:
        db = Database(settings.effective_database_url)
        store = Recordings.open(settings, Clock())
        async with db.transaction(readonly=True) as s:
            from sqlalchemy import func, select

            rows = (await s.execute(select(func.count(RecordingFile.id)))).scalar_one()
        objects = [o async for o in store.storage.list()]
        leftovers = list(store.staging_dir.glob("ingest-*.part"))
        await db.dispose()
        return rows, len(objects) + len(leftovers)

    rows, debris = asyncio.run(check())
    assert rows == 0 and debris >= 1  # nothing acknowledged, something to clean up
    code, out = run(settings, "verify")
    assert (code == 1) is (stage == "stored")
    code, out = run(settings, "gc", "--orphan-age", "0")
    assert code == 0 and "removed" in out
    assert asyncio.run(check()) == (0, 0)
    code, out = run(settings, "verify")
    assert code == 0, out


def test_gc_keeps_young_leftovers(settings: Settings) -> None:
    store = Recordings.open(settings, Clock())
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    young = store.staging_dir / "ingest-young.part"
    young.write_bytes(b"x")
    old = store.staging_dir / "ingest-old.part"
    old.write_bytes(b"x")
    past = (dt.datetime.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(old, (past, past))
    code, out = run(settings, "gc")
    assert code == 0 and "removed interrupted write ingest-old.part" in out
    assert young.exists() and not old.exists()
