"""`b24tel serve` as a real process on 127.0.0.1, with everything it prints kept."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from b24tel.config import SQLITE_FILE as DATABASE
from b24tel.db import migrate
from tests.conftest import free_port


@functools.cache
def migrated_database() -> Path:
    """An empty SQLite database at the newest schema, made once per test process.

    A server started on an empty data directory runs every migration first: about 0.25 s
    of CPU of its 1.1 s to be ready, and the suite starts some fifty servers so. A copy of
    this file gives it the same schema and the same seeded rows (the migrations write no
    random values), so it starts as a server does on a database it made before — and still
    creates its first user and webhook, which depend on the users table being empty.
    `fresh=True` keeps a server's own first migration where a test is about that."""
    folder = Path(tempfile.mkdtemp(prefix="b24tel-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    migrate.upgrade(f"sqlite+aiosqlite:///{folder / DATABASE}")
    return folder / DATABASE


def provide_schema(data_dir: Path, env: dict[str, str], args: tuple[str, ...]) -> None:
    """Copy the migrated database into ``data_dir`` when the server would make a new
    SQLite database there (no database yet, none named by the environment or a file)."""
    if "B24TEL_DATABASE_URL" in env or "--config" in args or (data_dir / DATABASE).exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_database(), data_dir / DATABASE)


class ServeProcess:
    """Starts `b24tel serve` and waits until it has started; ``output`` is everything it
    printed (stdout and stderr). On an empty data directory it starts from a copy of
    ``migrated_database()`` unless ``fresh``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        fresh: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
        if not fresh:
            provide_schema(data_dir, env or {}, args)
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
