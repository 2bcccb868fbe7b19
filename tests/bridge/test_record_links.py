"""``bridge_record_mode = url``: a recording sent as FILE_CONTENT is kept here first and the
portal gets a signed RECORD_URL to fetch it from the bridge (``public_url``) — passed on
at once, and made afresh for one that waited while the portal was away."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bridge.test_passthrough import FIXTURES, PORTAL_ENV, portal
from tests.bridge.test_queue import portal_calls
from tests.conftest import free_port
from tests.servers import ServeProcess
from tests.web.browser import ENV

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()
MP3 = (FIXTURES / "call-32k-mono.mp3").read_bytes()


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    with portal(tmp_path, "upstream") as upstream:
        port = free_port()
        env = {**ENV, "B24TEL_UPSTREAM_URL": upstream.hook, "B24TEL_UPSTREAM_ALLOW_HTTP": "true",
               "B24TEL_UPSTREAM_TIMEOUT": "2", "B24TEL_BRIDGE_RECORD_MODE": "url",
               "B24TEL_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
        with ServeProcess(tmp_path / "bridge", port=port, env=env) as bridge:
            yield bridge, upstream


def rest(base: str, method: str, **params: Any) -> Any:
    answer = httpx.post(base + method, json=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def record(bridge: ServeProcess, call_id: str, name: str, data: bytes) -> Any:
    return rest(bridge.hook, "telephony.externalCall.attachRecord", CALL_ID=call_id,
                FILENAME=name, FILE_CONTENT=base64.b64encode(data).decode())  # fmt: skip


async def test_the_portal_fetches_each_recording_from_the_bridge(
    bridged: tuple[ServeProcess, ServeProcess], tmp_path: Path
) -> None:
    bridge, upstream = bridged
    call_id = rest(bridge.hook, "telephony.externalCall.register", USER_ID=1,
                   PHONE_NUMBER="+79160001234", TYPE=2, SHOW=0)["CALL_ID"]  # fmt: skip
    rest(bridge.hook, "telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1, DURATION=9)
    record(bridge, call_id, "first.wav", WAV)
    record(bridge, call_id, "second.mp3", MP3)
    [row] = await portal_calls(upstream.hook)
    assert row["CALL_RECORD_URL"].startswith(bridge.url + "/rest/download.json?token=")
    assert row["recording"] == MP3
    # the bridge keeps both versions; the portal fetched the newest from it
    with sqlite3.connect(tmp_path / "bridge" / "b24tel.db") as db:
        kept = db.execute("SELECT name, source, replaced_by IS NULL FROM recording_files "
                          "WHERE call_id = ? ORDER BY id", (call_id,)).fetchall()  # fmt: skip
    assert kept == [("first.wav", "content", 0), ("second.mp3", "content", 1)]
    # while the portal is away, the write waits; forwarded, its link is made afresh
    port, hook = upstream.port, upstream.hook
    upstream.stop()
    later = rest(bridge.hook, "telephony.externalCall.register", USER_ID=1,
                 PHONE_NUMBER="+79160005555", TYPE=2, SHOW=0)["CALL_ID"]  # fmt: skip
    rest(bridge.hook, "telephony.externalCall.finish", CALL_ID=later, USER_ID=1, DURATION=4)
    record(bridge, later, "later.wav", WAV)
    with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV):
        deadline = time.monotonic() + 30
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = await portal_calls(hook, recordings=False)
            if len(rows) == 2 and rows[1]["RECORD_FILE_ID"]:
                break
            await asyncio.sleep(0.3)
        rows = await portal_calls(hook)
        assert rows[1]["recording"] == WAV
        assert rows[1]["CALL_RECORD_URL"].startswith(bridge.url + "/rest/download.json?token=")
