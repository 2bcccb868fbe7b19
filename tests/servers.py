"""`b24tel serve` as a real process on 127.0.0.1, with everything it prints kept."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


class ServeProcess:
    """Starts `b24tel serve` and waits until it has started; ``output`` is everything it
    printed (stdout and stderr)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "b24tel",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**base, **(env or {})},
        )
        self.lines: list[str] = []
        self.hook = ""
        self._ended = False
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError("b24tel serve did not start:\n" + self.output)
        if self._ended:  # its output ended before it said it listens: it exited
            self.proc.wait(10)
            raise RuntimeError(f"b24tel serve exited ({self.proc.returncode}):\n{self.output}")
        self._started()

    def _started(self) -> None:
        """Wait until the app has started: the server says it listens before that, and
        only then writes the row that tells commands beside it that a server delivers
        events (``b24tel.ops.instances``). A request is answered once it has."""
        said = re.search(r"listening on (https?://\S+)", self.output)
        base = said.group(1) if said else self.url
        with contextlib.suppress(httpx.HTTPError):  # it stopped meanwhile: the test will see
            httpx.get(base + "/healthz", verify=False, timeout=60)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if match := re.search(r"Webhook URL: (\S+)", line):
                self.hook = match.group(1)
            if "Uvicorn running" in line or "listening on" in line:
                self._ready.set()
        self._ended = not self._ready.is_set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.05)
    return False
