"""Several `b24tel serve` instances on one PostgreSQL: what one instance or a command
changes, every other instance knows at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import free_port
from tests.servers import ServeProcess, wait_for
from tests.web.browser import cli

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


def test_a_revoked_webhook_is_refused_by_every_instance_within_a_second(
    shared_postgres: str, tmp_path: Path
) -> None:
    # a long auth cache: without the NOTIFY the webhook would keep working for a minute
    env = {"B24TEL_DATABASE_URL": shared_postgres, "B24TEL_AUTH_CACHE_TTL": "60"}
    with (
        ServeProcess(tmp_path / "a", env=env) as first,
        ServeProcess(tmp_path / "b", env=env) as second,
    ):
        created = cli(tmp_path / "a", "webhooks", "create", "--user", "1", env=env)
        path = created.split("/rest/", 1)[1].split()[0]
        hook_id = path.split("/")[0]
        on_first, on_second = f"{first.url}/rest/{path}", f"{second.url}/rest/{path}"
        webhooks = cli(tmp_path / "a", "webhooks", "list", env=env).splitlines()
        webhook_id = next(
            line.split()[0]
            for line in webhooks[1:]
            if line.split()[1] == hook_id and "created on" not in line
        )
        for hook in (on_first, on_second):  # both instances have it cached now
            assert "result" in httpx.get(hook + "server.time").json()
        cli(tmp_path / "a", "webhooks", "revoke", webhook_id, env=env)
        revoked_at = time.monotonic()
        for hook in (on_second, on_first):
            while True:
                answer = httpx.get(hook + "server.time").json()
                if answer.get("error") == "INVALID_CREDENTIALS":
                    break
                assert time.monotonic() - revoked_at < 1.0, "still accepted after 1 s"
                time.sleep(0.02)


def test_workers_need_postgresql(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "b24tel", "serve", "--workers", "2", "--data-dir",
         str(tmp_path / "data"), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")},
    )  # fmt: skip
    assert done.returncode == 1
    assert "--workers needs PostgreSQL" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_workers_share_the_port_on_postgresql(shared_postgres: str, tmp_path: Path) -> None:
    env = {"B24TEL_DATABASE_URL": shared_postgres}
    with ServeProcess(tmp_path / "data", env=env, args=("--workers", "2")) as server:
        assert "with 2 worker processes" in server.output
        parent = psutil.Process(server.proc.pid)
        assert wait_for(lambda: len(_workers(parent)) == 2, 30), parent.children(recursive=True)
        # a worker still starting its app (a busy machine: seconds) answers once it is up;
        # the port is shared from the moment its process exists
        answered = [
            httpx.get(server.hook + "server.time", timeout=60).status_code for _ in range(40)
        ]
        assert answered == [200] * 40
        workers = _workers(parent)
        # one access line per request, the server's own (uvicorn's would repeat it)
        assert wait_for(lambda: server.output.count("b24tel.access") >= 40), server.output
        assert "uvicorn.access" not in server.output
        server.stop()
        assert server.proc.returncode == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    """The running worker processes (uvicorn spawns them through multiprocessing; one it
    has just replaced may linger as a zombie until reaped)."""
    workers = []
    for child in parent.children():
        try:
            command = " ".join(child.cmdline())
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
        if "multiprocessing" in command and "resource_tracker" not in command:
            workers.append(child)
    return workers
