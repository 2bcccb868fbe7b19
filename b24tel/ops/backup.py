"""``b24tel backup --out FILE`` and ``b24tel restore FILE``.

A backup is one tar file:

- ``b24tel-backup.json`` — the manifest: when, which database and storage, the schema
  revision, and every recording file the database points at (key, size, sha256);
- ``database.sqlite`` (SQLite's online backup API: a consistent copy while the server
  writes) or ``database.sql`` (``pg_dump`` of one exported snapshot);
- ``recordings/<key>`` for each of those files when the recordings are local; recordings in
  S3 stay in the bucket (give it versioning or its own backup) and the manifest lists them.

The database is copied first; the recordings are then the ones *that copy* points at, so a
recording stored during the backup is neither half in nor referenced. Keys are never
reused, so an object read later is the one the snapshot meant; each is checked against its
sha256 on the way in. The file appears under its name only complete (written as
``FILE.part``, renamed at the end).

``b24tel restore`` (ops/restore) puts it back into an empty target."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24tel.config import Settings
from b24tel.recordings.storage import LocalStorage, RecordingStorage

MANIFEST = "b24tel-backup.json"
FORMAT = 1
LIVE_FILES = (
    "SELECT id, storage_key, size, sha256 FROM recording_files WHERE deleted_at IS NULL ORDER BY id"
)


class BackupError(Exception):
    """Why a backup or restore cannot be done; the message is for the operator."""


@dataclass
class Outcome:
    database: str
    storage: str
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


# --- backup -----------------------------------------------------------------------------


async def backup(settings: Settings, storage: RecordingStorage, out: Path) -> Outcome:
    part = out.with_name(out.name + ".part")
    outcome = Outcome("sqlite" if settings.is_sqlite else "postgresql", storage_kind(storage))
    # beside the output, private: the database copy holds the server's secrets; a killed
    # run's leftovers go at the next
    scratch = out.with_name(f".{out.name}.scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700, parents=True)
    try:
        dump = scratch / ("database.sqlite" if settings.is_sqlite else "database.sql")
        if settings.is_sqlite:
            revision, files = await asyncio.to_thread(
                _sqlite_snapshot, _sqlite_path(settings), dump
            )
        else:
            revision, files = await _pg_snapshot(settings.effective_database_url, dump)
        manifest = {
            "format": FORMAT,
            "id": secrets.token_hex(8),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "database": outcome.database,
            "schema_revision": revision,
            "storage": outcome.storage,
            "files": [{"key": k, "size": size, "sha256": sha} for _, k, size, sha in files],
        }
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            tar.add(dump, arcname=dump.name)
            for _, key, size, sha in files:
                if isinstance(storage, LocalStorage):
                    problem = await asyncio.to_thread(_add_object, tar, storage, key, size, sha)
                else:
                    problem = await check_remote(storage, key, size)
                if problem:
                    outcome.problems.append(problem)
                outcome.files += 1
                outcome.bytes += size
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if outcome.problems:
        part.unlink(missing_ok=True)
        return outcome
    os.replace(part, out)
    return outcome


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.effective_database_url).database
    if not database or not Path(database).is_file():
        raise BackupError(f"no SQLite database at {database}")
    return Path(database)


def _sqlite_snapshot(source: Path, dump: Path) -> tuple[str, list[tuple[Any, ...]]]:
    """One backup step copies every page under one read transaction: a consistent copy
    while the server keeps writing (WAL)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dump)
    try:
        src.backup(dst)
        revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        files = dst.execute(LIVE_FILES).fetchall()
    finally:
        dst.close()
        src.close()
    return str(revision), files


def libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump / psql; the password goes in the environment, never
    on a command line."""
    parsed: URL = make_url(url)
    args = ["--dbname", parsed.database or "postgres"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found: install the PostgreSQL client tools "
            "(the server's major version or newer)"
        )
    return found


async def _pg_snapshot(url: str, dump: Path) -> tuple[str, list[tuple[Any, ...]]]:
    """pg_dump of a snapshot this transaction exports, and the file rows of that very
    snapshot."""
    pg_dump = tool("pg_dump")
    args, env = libpq(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                proc = await asyncio.create_subprocess_exec(
                    pg_dump, *args, "--snapshot", str(snapshot), "--no-owner",
                    "--no-privileges", "--file", str(dump),
                    env=env, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                _, err = await proc.communicate()
                if proc.returncode != 0:
                    raise BackupError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
                revision = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one()
                files = [tuple(r) for r in (await conn.execute(text(LIVE_FILES))).all()]
    finally:
        await engine.dispose()
    return str(revision), files


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


class _Hashing(io.RawIOBase):
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _add_object(
    tar: tarfile.TarFile, storage: LocalStorage, key: str, size: int, sha: str
) -> str | None:
    path = storage.path(key)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return f"object {key} is missing (removed after the snapshot?)"
    with fh:
        actual = os.fstat(fh.fileno()).st_size
        if actual != size:
            return f"object {key} has {actual} bytes, the database says {size}"
        info = tarfile.TarInfo(f"recordings/{key}")
        info.size = size
        info.mtime = int(os.fstat(fh.fileno()).st_mtime)
        reader = _Hashing(fh)
        tar.addfile(info, reader)
    if reader.digest.hexdigest() != sha:
        return f"object {key} does not match its sha256"
    return None


async def check_remote(storage: RecordingStorage, key: str, size: int) -> str | None:
    try:
        info = await storage.stat(key)
    except FileNotFoundError:
        return f"object {key} is missing from the bucket"
    if info.size != size:
        return f"object {key} has {info.size} bytes, the database says {size}"
    return None


def storage_kind(storage: RecordingStorage) -> str:
    return "local" if isinstance(storage, LocalStorage) else "s3"
