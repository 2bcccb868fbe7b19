"""A full disk: every attach mode and a database write answer with a clear 507 naming the
cause, the database stays intact, and everything works again once there is room."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db import migrate
from tests.conftest import FIXTURES, WEBHOOK_CODE, make_harness
from tests.helpers import err, ok

HOOK = f"/rest/1/{WEBHOOK_CODE}/"
WAV = (FIXTURES / "silence-1s.wav").read_bytes()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 24 MB file system (tmpfs): filling it up is cheap and harmless."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


def leftovers(data: Path) -> list[Path]:
    return [p for p in data.rglob("*.part")]


async def test_full_disk_is_a_clear_error_and_heals(small_disk: Path, clock: Clock) -> None:
    data = small_disk / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'b24tel.db'}"
    migrate.upgrade(url)
    settings = Settings.load(env={}, data_dir=str(data), database_url=url, secret_key="k")
    async with make_harness(settings, clock) as h:
        uid = await h.add_user(name="Admin", admin=True)
        await h.add_webhook(uid, code=WEBHOOK_CODE)
        register = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}
        call = ok(await h.call(HOOK, "telephony.externalCall.register", register))
        call_id = call["result"]["CALL_ID"]
        ok(await h.call(HOOK, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1}))
        content = {
            "CALL_ID": call_id,
            "FILENAME": "a.wav",
            "FILE_CONTENT": base64.b64encode(WAV).decode(),
        }
        link = ok(
            await h.call(
                HOOK,
                "telephony.externalCall.attachRecord",
                {"CALL_ID": call_id, "FILENAME": "b.wav"},
            )
        )["result"]["uploadUrl"]
        upload_path = "/" + link.split("://", 1)[1].split("/", 1)[1]
        multipart = (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="b.wav"\r\n\r\n'
            + WAV
            + b"\r\n--B--\r\n"
        )
        upload_headers = {"content-type": "multipart/form-data; boundary=B"}
        big_note = {"fields": {"NAME": "A", "COMMENTS": "n" * 900_000}}

        filler = fill(small_disk)

        response = await h.call(HOOK, "telephony.externalCall.attachRecord", content)
        body = err(response, 507, "INSUFFICIENT_STORAGE")
        assert "disk space" in body["error_description"]
        response, _ = await h.asgi("POST", upload_path, body=multipart, headers=upload_headers)
        err(response, 507, "INSUFFICIENT_STORAGE")
        response = await h.call(HOOK, "crm.contact.add", big_note)
        err(response, 507, "INSUFFICIENT_STORAGE")
        assert leftovers(data) == []

        filler.unlink()

        ok(await h.call(HOOK, "telephony.externalCall.attachRecord", content))
        response, _ = await h.asgi("POST", upload_path, body=multipart, headers=upload_headers)
        ok(response)
        ok(await h.call(HOOK, "crm.contact.add", big_note))
    with sqlite3.connect(data / "b24tel.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
