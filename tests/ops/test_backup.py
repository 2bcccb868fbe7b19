"""`b24tel backup --out FILE` while a connector keeps writing, and `b24tel restore FILE` into
an empty target: `recordings verify` is clean and a server on the restored data serves the
recordings. A backup or a restore SIGKILLed midway leaves nothing half-made under the
backup's name, and a rerun finishes the job. SQLite and PostgreSQL; local and S3 storage."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from b24tel.db import migrate
from tests.commands import b24tel
from tests.conftest import FIXTURES, POSTGRES_ENV, _admin
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()
MP3 = (FIXTURES / "call-32k-mono.mp3").read_bytes()


@contextlib.contextmanager
def empty_postgres() -> Iterator[str]:
    """A new PostgreSQL database without tables (a restore target)."""
    server = make_url(os.environ[POSTGRES_ENV])
    name = f"b24tel_restore_{secrets.token_hex(4)}"
    admin = server.render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def target(backend: str, tmp_path: Path, name: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A data dir and the environment that points at a fresh database of the backend."""
    data = tmp_path / name
    if backend == "sqlite":
        yield data, {}
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with empty_postgres() as url:
        yield data, {"B24TEL_DATABASE_URL": url}


def cli(data: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command run in this process (tests/commands); a kill midway starts one of its
    own (``_kill_when``)."""
    ran = b24tel(data, *args, env=env)
    return subprocess.CompletedProcess(["b24tel", *args], ran.code, ran.stdout, ran.stderr)


class Connector(threading.Thread):
    """Calls with recordings, one after another, some replaced by a second recording."""

    def __init__(self, hook: str) -> None:
        super().__init__(daemon=True)
        self.hook = hook
        self.stop = threading.Event()
        self.calls = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                try:
                    self._one(http)
                except Exception as exc:  # reported by the test
                    self.failures.append(repr(exc))
                    return

    def _one(self, http: httpx.Client) -> None:
        def rest(method: str, **params: object) -> dict:
            answer = http.post(self.hook + method, json=params).json()
            assert "result" in answer, answer
            return answer["result"]

        number = f"+7916{self.calls:07d}"
        call_id = rest("telephony.externalCall.register", USER_ID=1, PHONE_NUMBER=number, TYPE=2)[
            "CALL_ID"
        ]
        rest("telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1, DURATION=10)
        for name, data in [("a.wav", WAV)] + ([("b.mp3", MP3)] if self.calls % 3 == 0 else []):
            rest(
                "telephony.externalCall.attachRecord",
                CALL_ID=call_id,
                FILENAME=name,
                FILE_CONTENT=base64.b64encode(data).decode(),
            )
        self.calls += 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_under_write_load_and_restore(backend: str, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    with target(backend, tmp_path, "source") as (source, env):
        with ServeProcess(source, env=env, args=("--upgrade",)) as server:
            load = Connector(server.hook)
            load.start()
            deadline = time.monotonic() + 60
            while load.calls < 5 and time.monotonic() < deadline and not load.failures:
                time.sleep(0.05)
            done = cli(source, env, "backup", "--out", str(archive))
            during = load.calls
            time.sleep(0.5)  # the load goes on after the snapshot
            load.stop.set()
            load.join(30)
        assert not load.failures, load.failures
        assert done.returncode == 0, done.stderr
        assert "Backup written to" in done.stdout
        assert load.calls > during > 0
        assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds the server secret
        with tarfile.open(archive) as tar:
            manifest = json.loads(tar.extractfile("b24tel-backup.json").read())  # type: ignore[union-attr]
            names = set(tar.getnames())
        assert manifest["database"] == ("sqlite" if backend == "sqlite" else "postgresql")
        assert manifest["schema_revision"] == migrate.head_revision()
        files = manifest["files"]
        assert len(files) >= 5
        assert {f"recordings/{f['key']}" for f in files} <= names
        hook_path = server.hook.split("/rest/", 1)[1]

        with target(backend, tmp_path, "restored") as (restored, renv):
            again = cli(restored, renv, "restore", str(archive))
            assert again.returncode == 0, again.stderr + again.stdout
            assert f"{len(files)} recording(s)" in again.stdout
            verify = cli(restored, renv, "recordings", "verify")
            assert verify.returncode == 0, verify.stdout
            assert f"{len(files)} file(s) checked, 0 problem(s)" in verify.stdout
            # a second restore into the now full target is refused, in words
            refused = cli(restored, renv, "restore", str(archive))
            assert refused.returncode == 1
            assert "restore needs an empty target" in refused.stderr
            with ServeProcess(restored, env=renv) as copy:
                hook = f"{copy.url}/rest/{hook_path}"
                stats = httpx.get(hook + "voximplant.statistic.get").json()
                with_files = [s for s in stats["result"] if s["RECORD_FILE_ID"]]
                assert len(with_files) >= 5
                file_id = with_files[0]["RECORD_FILE_ID"]
                body = httpx.get(f"{hook}download.json?id={file_id}").content
                assert body in (WAV, MP3)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_backup_and_restore_are_finished_by_a_rerun(backend: str, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    with target(backend, tmp_path, "source") as (source, env):
        with ServeProcess(source, env=env, args=("--upgrade",)) as server:
            hook = server.hook
        # many recordings, so that the backup takes a moment
        big = _big_wav(8 * 1024 * 1024)
        _seed(source, env, hook, big, 6)
        part = archive.with_name(archive.name + ".part")
        _kill_when(cli_args(source, env, "backup", "--out", str(archive)), lambda: part.exists())
        assert not archive.exists()  # nothing half-made under the backup's name
        done = cli(source, env, "backup", "--out", str(archive))
        assert done.returncode == 0, done.stderr
        assert archive.exists() and not part.exists()
        assert not list(tmp_path.glob(".backup.tar.scratch*"))

    with target(backend, tmp_path, "restored") as (restored, renv):
        marker = restored / ".restore-in-progress"
        objects = restored / "recordings"
        _kill_when(
            cli_args(restored, renv, "restore", str(archive)),
            lambda: marker.exists() and any(p.is_file() for p in objects.rglob("*.wav")),
        )
        assert marker.exists()
        finished = cli(restored, renv, "restore", str(archive))
        assert finished.returncode == 0, finished.stderr + finished.stdout
        assert not marker.exists()
        verify = cli(restored, renv, "recordings", "verify")
        assert verify.returncode == 0, verify.stdout
        assert "6 file(s) checked, 0 problem(s)" in verify.stdout


def test_a_restore_refuses_what_is_not_a_backup_and_the_wrong_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file at all")
    answer = cli(tmp_path / "data", {}, "restore", str(junk))
    assert answer.returncode == 1 and "not a b24tel backup" in answer.stderr
    with tarfile.open(tmp_path / "evil.tar", "w") as tar:
        data = json.dumps(
            {"format": 1, "id": "x", "database": "sqlite", "storage": "local",
             "schema_revision": "0011", "files": [{"key": "../../etc/x", "size": 1,
                                                   "sha256": "0" * 64}]}
        ).encode()  # fmt: skip
        info = tarfile.TarInfo("b24tel-backup.json")
        info.size = len(data)
        tar.addfile(info, __import__("io").BytesIO(data))
    answer = cli(tmp_path / "data", {}, "restore", str(tmp_path / "evil.tar"))
    assert answer.returncode == 1 and "invalid storage key" in answer.stderr
    assert not (tmp_path / "etc").exists()
    with tarfile.open(tmp_path / "pg.tar", "w") as tar:
        data = json.dumps(
            {"format": 1, "id": "y", "database": "postgresql", "storage": "local",
             "schema_revision": "0011", "files": []}
        ).encode()  # fmt: skip
        info = tarfile.TarInfo("b24tel-backup.json")
        info.size = len(data)
        tar.addfile(info, __import__("io").BytesIO(data))
    answer = cli(tmp_path / "data2", {}, "restore", str(tmp_path / "pg.tar"))
    assert answer.returncode == 1
    assert "this backup holds a postgresql database and the settings point at sqlite" in (
        answer.stderr
    )


def test_backup_with_recordings_in_s3(moto_endpoint: str, tmp_path: Path) -> None:
    from tests.conftest import s3_settings

    bucket = f"b24tel-{secrets.token_hex(4)}"
    env = {f"B24TEL_{k.upper()}": v for k, v in s3_settings(moto_endpoint, bucket).items()}
    source = tmp_path / "source"
    with ServeProcess(source, env=env) as server:
        load = Connector(server.hook)
        load.start()
        deadline = time.monotonic() + 60
        while load.calls < 3 and time.monotonic() < deadline and not load.failures:
            time.sleep(0.05)
        load.stop.set()
        load.join(30)
    assert not load.failures, load.failures
    archive = tmp_path / "backup.tar"
    done = cli(source, env, "backup", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    assert "the bytes stay in S3" in done.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("b24tel-backup.json").read())  # type: ignore[union-attr]
    assert manifest["storage"] == "s3" and len(manifest["files"]) >= 3
    assert not [n for n in names if n.startswith("recordings/")]
    restored = tmp_path / "restored"
    again = cli(restored, env, "restore", str(archive))
    assert again.returncode == 0, again.stderr + again.stdout
    verify = cli(restored, env, "recordings", "verify")
    assert verify.returncode == 0, verify.stdout


# --- helpers ------------------------------------------------------------------------------


def cli_args(data: Path, env: dict[str, str], *args: str) -> tuple[list[str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    return [sys.executable, "-m", "b24tel", "--data-dir", str(data), *args], {**base, **env}


def _kill_when(command: tuple[list[str], dict[str, str]], started: object) -> None:
    proc = subprocess.Popen(command[0], env=command[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if callable(started) and started():
            break
        time.sleep(0.002)
    assert proc.poll() is None, "finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def _big_wav(size: int) -> bytes:
    from b24tel.simulate import wav_header

    return wav_header(size) + bytes(size)


def _seed(data: Path, env: dict[str, str], hook: str, wav: bytes, count: int) -> None:
    with ServeProcess(data, env=env) as server:
        url = f"{server.url}/rest/{hook.split('/rest/', 1)[1]}"
        with httpx.Client(timeout=120) as http:
            for i in range(count):
                call_id = http.post(
                    url + "telephony.externalCall.register",
                    json={"USER_ID": 1, "PHONE_NUMBER": f"+7916{i:07d}", "TYPE": 2},
                ).json()["result"]["CALL_ID"]
                http.post(
                    url + "telephony.externalCall.finish",
                    json={"CALL_ID": call_id, "USER_ID": 1, "DURATION": 10},
                )
                answer = http.post(
                    url + "telephony.externalCall.attachRecord",
                    json={
                        "CALL_ID": call_id,
                        "FILENAME": "big.wav",
                        "FILE_CONTENT": base64.b64encode(wav).decode(),
                    },
                ).json()
                assert "result" in answer, answer
