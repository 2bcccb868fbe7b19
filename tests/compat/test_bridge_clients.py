"""A real client through a bridge: fast_bitrix24 (its calls go out as ``batch``) and a
plain ``requests`` upload to the link the bridge hands out, the way a connector's code
does it — the portal (a second b24tel, a real process) ends with the call and the
recording, the bridge with a copy of every version."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from fast_bitrix24 import Bitrix

from tests.bridge.test_passthrough import portal
from tests.conftest import FIXTURES
from tests.servers import ServeProcess
from tests.web.browser import ENV

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

MP3 = (FIXTURES / "call-32k-mono.mp3").read_bytes()
WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    with portal(tmp_path, "upstream") as upstream:
        env = {**ENV, "B24TEL_UPSTREAM_URL": upstream.hook, "B24TEL_UPSTREAM_ALLOW_HTTP": "true"}
        with ServeProcess(tmp_path / "bridge", env=env) as bridge:
            yield bridge, upstream


def test_fast_bitrix24_and_an_upload_through_the_bridge(
    bridged: tuple[ServeProcess, ServeProcess], tmp_path: Path
) -> None:
    bridge, upstream = bridged
    b = Bitrix(bridge.hook, verbose=False)
    reg = b.call("telephony.externalCall.register",
                 {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2, "SHOW": 0})  # fmt: skip
    call_id = reg["CALL_ID"] if "CALL_ID" in reg else next(iter(reg.values()))["CALL_ID"]
    b.call("telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 7})
    b.call("telephony.externalCall.attachRecord", {
        "CALL_ID": call_id, "FILENAME": "first.mp3", "FILE_CONTENT": base64.b64encode(MP3).decode(),
    })  # fmt: skip
    link = b.call("telephony.externalCall.attachRecord", {"CALL_ID": call_id, "FILENAME": "x.wav"})
    link = link if "uploadUrl" in link else next(iter(link.values()))
    assert link["uploadUrl"].startswith(bridge.url + "/rest/")  # the bridge's, not the portal's
    assert upstream.hook.rstrip("/").rsplit("/", 1)[1] not in link["uploadUrl"]
    sent = requests.post(link["uploadUrl"], timeout=30,
                         files={link["fieldName"]: ("second.wav", WAV, "audio/wav")})  # fmt: skip
    assert sent.status_code == 200 and isinstance(sent.json()["result"]["FILE_ID"], int)
    # the portal: the call, and the last recording byte for byte
    stat = httpx.post(upstream.hook + "voximplant.statistic.get",
                      json={"FILTER": {"CALL_ID": call_id}}).json()["result"][0]  # fmt: skip
    info = httpx.post(upstream.hook + "disk.file.get", json={"id": stat["RECORD_FILE_ID"]})
    got = httpx.get(info.json()["result"]["DOWNLOAD_URL"]).content
    assert hashlib.sha256(got).digest() == hashlib.sha256(WAV).digest()
    # the bridge: both versions
    with sqlite3.connect(tmp_path / "bridge" / "b24tel.db") as db:
        kept = db.execute("SELECT name, sha256 FROM recording_files WHERE call_id = ? "
                          "ORDER BY id", (call_id,)).fetchall()  # fmt: skip
    assert kept == [("first.mp3", hashlib.sha256(MP3).hexdigest()),
                    ("second.wav", hashlib.sha256(WAV).hexdigest())]  # fmt: skip
