"""A server killed (SIGKILL) in the middle of a large upload and restarted: the call shows
its previous recording, never a partial one; `recordings verify` is clean after `gc`."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from b24tel.simulate import wav_header
from tests.conftest import FIXTURES, free_port
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

MB = 1024 * 1024
PREVIOUS = (FIXTURES / "call-8k-mono.wav").read_bytes()


class Progress:
    def __init__(self) -> None:
        self.sent = 0
        self.killed = threading.Event()


def slow_json(call_id: str, progress: Progress) -> Iterator[bytes]:
    yield f'{{"CALL_ID":"{call_id}","FILENAME":"big.wav","FILE_CONTENT":"'.encode()
    yield base64.b64encode(wav_header(300 * MB))
    block = base64.b64encode(b"\x01\x02\x03" * (MB // 3))
    for _ in range(300):
        if progress.killed.is_set():
            return
        progress.sent += len(block)
        yield block
        time.sleep(0.01)
    yield b'"}'


def slow_multipart(progress: Progress) -> Iterator[bytes]:
    yield (
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + wav_header(300 * MB)
    )
    for _ in range(300):
        if progress.killed.is_set():
            return
        progress.sent += MB
        yield b"\0" * MB
        time.sleep(0.01)
    yield b"\r\n--XX--\r\n"


@pytest.mark.parametrize("mode", ["content", "upload"])
def test_killed_during_upload(tmp_path: Path, mode: str) -> None:
    port = free_port()
    server = ServeProcess(tmp_path / "data", port=port)
    hook = server.hook
    try:
        call_id = httpx.post(
            hook + "telephony.externalCall.register",
            json={"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2},
        ).json()["result"]["CALL_ID"]
        httpx.post(
            hook + "telephony.externalCall.finish",
            json={"CALL_ID": call_id, "USER_ID": 1, "DURATION": 9},
        )
        previous = httpx.post(
            hook + "telephony.externalCall.attachRecord",
            json={
                "CALL_ID": call_id,
                "FILENAME": "first.wav",
                "FILE_CONTENT": base64.b64encode(PREVIOUS).decode(),
            },
        ).json()["result"]["FILE_ID"]
        progress = Progress()
        if mode == "content":
            target, body, ctype = (
                hook + "telephony.externalCall.attachRecord",
                slow_json(call_id, progress),
                "application/json",
            )
        else:
            target = httpx.post(
                hook + "telephony.externalCall.attachRecord",
                json={"CALL_ID": call_id, "FILENAME": "big.wav"},
            ).json()["result"]["uploadUrl"]
            body, ctype = slow_multipart(progress), "multipart/form-data; boundary=XX"

        def send() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under us
                httpx.post(target, content=body, headers={"content-type": ctype}, timeout=60)

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while progress.sent < 40 * MB and time.monotonic() < deadline:
            time.sleep(0.05)
        assert progress.sent >= 40 * MB
        server.kill()  # 40 MB of a 300 MB recording are in
        progress.killed.set()
        sender.join(30)
    finally:
        if server.proc.poll() is None:
            server.kill()
    server = ServeProcess(tmp_path / "data", port=port)
    try:
        row = httpx.post(
            hook + "voximplant.statistic.get", json={"FILTER": {"CALL_ID": call_id}}
        ).json()["result"][0]
        assert row["RECORD_FILE_ID"] == previous
        info = httpx.post(hook + "disk.file.get", json={"id": previous}).json()["result"]
        assert httpx.get(info["DOWNLOAD_URL"]).content == PREVIOUS
    finally:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(20)
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "b24tel", "--data-dir", str(tmp_path / "data"), "recordings", *a],
        capture_output=True,
        text=True,
        env=env,
    )
    gc = run("gc", "--orphan-age", "0")
    assert gc.returncode == 0, gc.stdout + gc.stderr
    verify = run("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "1 file(s) checked, 0 problem(s)" in verify.stdout
