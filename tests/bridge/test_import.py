"""``b24tel bridge import``: the portal's history copied here — 1 000 calls with their
recordings; killed midway and run again, it ends with every call once, each recording
byte for byte, nothing twice. The portal is a second b24tel, a real process."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.bridge.test_passthrough import portal
from tests.web.browser import ENV, cli

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

CALLS = 1000


def recording(n: int) -> bytes:
    """A short WAV of its own for call ``n``: no two recordings alike."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(n.to_bytes(2, "little") * 800 + os.urandom(64))
    return out.getvalue()


def number(n: int) -> str:
    return f"+7916{n:07d}"


async def seed(hook: str) -> dict[str, str]:
    """CALLS calls on the portal, each finished and recorded; the sha256 of each call's
    recording by phone number."""
    hashes: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=60) as client:

        async def batch(commands: dict[str, str]) -> dict[str, Any]:
            answer = (await client.post(hook + "batch", json={"halt": 1, "cmd": commands})).json()
            assert not answer["result"]["result_error"], answer
            return dict(answer["result"]["result"])

        call_ids: dict[int, str] = {}
        for first in range(0, CALLS, 50):
            got = await batch({
                f"r{n}": f"telephony.externalCall.register?USER_ID=1&TYPE=2&SHOW=0"
                         f"&PHONE_NUMBER={number(n).replace('+', '%2B')}"
                for n in range(first, min(first + 50, CALLS))
            })  # fmt: skip
            call_ids |= {int(k[1:]): v["CALL_ID"] for k, v in got.items()}
            await batch({
                f"f{n}": f"telephony.externalCall.finish?USER_ID=1&DURATION={n % 300 + 1}"
                         f"&CALL_ID={call_ids[n]}"
                for n in range(first, min(first + 50, CALLS))
            })  # fmt: skip
            made = {n: recording(n) for n in range(first, min(first + 50, CALLS))}
            hashes |= {number(n): hashlib.sha256(data).hexdigest() for n, data in made.items()}
            await batch({
                f"a{n}": f"telephony.externalCall.attachRecord?CALL_ID={call_ids[n]}"
                         f"&FILENAME=call{n}.wav&FILE_CONTENT="
                         + quote(base64.b64encode(data).decode(), safe="")
                for n, data in made.items()
            })  # fmt: skip
    return hashes


def kept(db: Path) -> list[tuple[str, str, str, str]]:
    """The bridge's copy: each call's number, CALL_ID, recording sha256 and storage key."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT s.phone_number, s.call_id, f.sha256, f.storage_key FROM tel_statistics s "
            "LEFT JOIN recording_files f ON f.id = s.record_file_id ORDER BY s.id"
        ).fetchall()


def copied(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM tel_statistics").fetchone()[0])
    except sqlite3.OperationalError:  # not there yet
        return 0


async def test_an_import_killed_midway_and_run_again_copies_each_call_once(
    tmp_path: Path,
) -> None:
    with portal(tmp_path, "upstream") as upstream:
        hashes = await seed(upstream.hook)
        data = tmp_path / "bridge"
        env = {**ENV, "B24TEL_UPSTREAM_URL": upstream.hook, "B24TEL_UPSTREAM_ALLOW_HTTP": "true",
               "B24TEL_UPSTREAM_RATE": "1000"}  # fmt: skip
        cli(data, "db", "upgrade", env=env)
        db = data / "b24tel.db"
        base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
        first = subprocess.Popen(
            [sys.executable, "-m", "b24tel", "--data-dir", str(data), "bridge", "import"],
            env={**base, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while copied(db) < CALLS // 3 and time.monotonic() < deadline and first.poll() is None:
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        midway = copied(db)
        assert CALLS // 3 <= midway < CALLS, midway
        again = cli(data, "bridge", "import", env=env)
        assert f"imported {CALLS - midway} calls ({CALLS - midway} with a recording); " \
               f"{midway} already here" in again, again  # fmt: skip
        rows = kept(db)
        assert len(rows) == CALLS and len({r[1] for r in rows}) == CALLS
        assert {r[0]: r[2] for r in rows} == hashes
        for _, _, sha, key in rows:  # the bytes themselves, not only the row's word
            stored = (data / "recordings" / key).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == sha
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM recording_files").fetchone()[0] == CALLS
        # a later start date: the portal lists none of them
        assert "imported 0 calls (0 with a recording); 0 already here" in cli(
            data, "bridge", "import", "--since", "2099-01-01", env=env
        )
        # a third run adds nothing
        assert f"imported 0 calls (0 with a recording); {CALLS} already here" in cli(
            data, "bridge", "import", env=env
        )
