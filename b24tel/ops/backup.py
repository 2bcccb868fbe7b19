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

A restore goes into an empty target (a data dir and a database without tables). It leaves a
marker in the data dir while it works and writes the backup's id into the restored
database in the same step that makes it appear (a rename for SQLite, one transaction for
PostgreSQL), so a restore killed at any point is finished by running it again."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
from collections.abc import Iterator
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
MARKER = ".restore-in-progress"
RESTORED_KEY = "restored_backup"  # server_state: the backup a database was restored from
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
    outcome = Outcome("sqlite" if settings.is_sqlite else "postgresql", _storage_kind(storage))
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
                    problem = await _check_remote(storage, key, size)
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


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
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


def _tool(name: str) -> str:
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
    pg_dump = _tool("pg_dump")
    args, env = _libpq(url)
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


async def _check_remote(storage: RecordingStorage, key: str, size: int) -> str | None:
    try:
        info = await storage.stat(key)
    except FileNotFoundError:
        return f"object {key} is missing from the bucket"
    if info.size != size:
        return f"object {key} has {info.size} bytes, the database says {size}"
    return None


def _storage_kind(storage: RecordingStorage) -> str:
    return "local" if isinstance(storage, LocalStorage) else "s3"


# --- restore ----------------------------------------------------------------------------


async def restore(settings: Settings, storage: RecordingStorage, archive: Path) -> Outcome:
    try:
        tar = tarfile.open(archive, mode="r")  # noqa: SIM115 (closed by the block below)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a b24tel backup ({exc})") from exc
    with tar:
        manifest = _manifest(tar)
        outcome = Outcome(manifest["database"], manifest["storage"])
        _check_kinds(settings, storage, manifest)
        data_dir = Path(settings.data_dir).resolve()
        marker = data_dir / MARKER
        resuming = marker.is_file() and marker.read_text().strip() == manifest["id"]
        restored = await _restored_from(settings)
        if not resuming:
            await _check_empty(settings, storage, restored)
        data_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(manifest["id"])
        for entry in manifest["files"]:
            outcome.files += 1
            outcome.bytes += entry["size"]
            if isinstance(storage, LocalStorage):
                problem = await _extract_object(tar, storage, entry, data_dir)
            else:
                problem = await _check_remote(storage, entry["key"], entry["size"])
            if problem:
                outcome.problems.append(problem)
        if outcome.problems:
            return outcome  # the marker stays: fix and run again
        if restored != manifest["id"]:
            if settings.is_sqlite:
                await asyncio.to_thread(_restore_sqlite, tar, settings, manifest["id"])
            else:
                await _restore_pg(tar, settings.effective_database_url, manifest["id"])
    marker.unlink()
    return outcome


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise KeyError(MANIFEST)
        manifest: dict[str, Any] = json.loads(member.read())
    except (KeyError, ValueError) as exc:
        raise BackupError(f"not a b24tel backup: no readable {MANIFEST}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not supported")
    return manifest


def _check_kinds(settings: Settings, storage: RecordingStorage, manifest: dict[str, Any]) -> None:
    database = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest["database"] != database:
        raise BackupError(
            f"this backup holds a {manifest['database']} database and the settings point at "
            f"{database}: set database_url accordingly"
        )
    if manifest["storage"] != _storage_kind(storage):
        raise BackupError(
            f"this backup was made with {manifest['storage']} recordings and storage_url "
            f"points at {_storage_kind(storage)} storage"
        )


async def _check_empty(settings: Settings, storage: RecordingStorage, restored: str | None) -> None:
    if restored is not None or await _has_tables(settings):
        raise BackupError(
            "restore needs an empty target: the database already has tables "
            "(use a new database or data dir)"
        )
    if isinstance(storage, LocalStorage) and any(_objects(storage.root)):
        raise BackupError(f"restore needs an empty target: {storage.root} holds recordings")


def _objects(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and path.relative_to(root).parts[0] != ".tmp":
                yield path


async def _has_tables(settings: Settings) -> bool:
    if settings.is_sqlite:
        path = Path(make_url(settings.effective_database_url).database or "")
        if not path.is_file():
            return False
        with contextlib.closing(sqlite3.connect(path)) as conn:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            return int(tables.fetchone()[0]) > 0
    engine = create_async_engine(settings.effective_database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            )
            return bool(count.scalar_one())
    finally:
        await engine.dispose()


async def _restored_from(settings: Settings) -> str | None:
    """The backup id the target database was restored from, if it was."""
    query = f"SELECT value FROM server_state WHERE key = '{RESTORED_KEY}'"
    if settings.is_sqlite:
        path = Path(make_url(settings.effective_database_url).database or "")
        if not path.is_file():
            return None
        with contextlib.closing(sqlite3.connect(path)) as conn:
            try:
                row = conn.execute(query).fetchone()
            except sqlite3.OperationalError:
                return None
        return None if row is None else str(row[0])
    engine = create_async_engine(settings.effective_database_url)
    try:
        async with engine.connect() as conn:
            exists = await conn.execute(text("SELECT to_regclass('server_state') IS NOT NULL"))
            if not exists.scalar_one():
                return None
            value = (await conn.execute(text(query))).scalar_one_or_none()
            return None if value is None else str(value)
    finally:
        await engine.dispose()


async def _extract_object(
    tar: tarfile.TarFile, storage: LocalStorage, entry: dict[str, Any], data_dir: Path
) -> str | None:
    key, size, sha = entry["key"], entry["size"], entry["sha256"]
    path = storage.path(key)  # refuses keys that would leave the storage root
    if path.is_file() and path.stat().st_size == size:
        return None  # put there by a restore that was interrupted
    try:
        member = tar.extractfile(f"recordings/{key}")
    except KeyError:
        member = None
    if member is None:
        return f"object {key} is not in the backup"
    scratch = data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    staged = scratch / f"restore-{secrets.token_hex(8)}.part"
    digest = hashlib.sha256()
    with staged.open("wb") as fh:
        while chunk := member.read(1024 * 1024):
            digest.update(chunk)
            fh.write(chunk)
    if digest.hexdigest() != sha:
        staged.unlink()
        return f"object {key} in the backup does not match its sha256"
    await storage.store_file(key, staged)
    staged.unlink(missing_ok=True)
    return None


def _restore_sqlite(tar: tarfile.TarFile, settings: Settings, backup_id: str) -> None:
    target = Path(make_url(settings.effective_database_url).database or "")
    staged = target.with_name(target.name + ".restoring")
    member = tar.extractfile("database.sqlite")
    if member is None:
        raise BackupError("the backup holds no database.sqlite")
    with staged.open("wb") as fh:
        shutil.copyfileobj(member, fh, 1024 * 1024)
    with contextlib.closing(sqlite3.connect(staged)) as conn, conn:
        conn.execute(
            "INSERT INTO server_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (RESTORED_KEY, backup_id),
        )
    with staged.open("rb") as fh:
        os.fsync(fh.fileno())
    for leftover in (
        target.with_name(target.name + "-wal"),
        target.with_name(target.name + "-shm"),
    ):
        leftover.unlink(missing_ok=True)
    os.replace(staged, target)


async def _restore_pg(tar: tarfile.TarFile, url: str, backup_id: str) -> None:
    """The dump and the restored-from mark in one transaction: all of it, or nothing."""
    psql = _tool("psql")
    args, env = _libpq(url)
    member = tar.extractfile("database.sql")
    if member is None:
        raise BackupError("the backup holds no database.sql")
    proc = await asyncio.create_subprocess_exec(
        psql, *args, "--no-psqlrc", "--quiet", "--single-transaction",
        "--set", "ON_ERROR_STOP=1", "--file", "-",
        env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    try:
        while chunk := await asyncio.to_thread(member.read, 1024 * 1024):
            proc.stdin.write(chunk)
            await proc.stdin.drain()
        proc.stdin.write(
            (
                f"\nINSERT INTO public.server_state (key, value) VALUES ('{RESTORED_KEY}', "
                f"'{backup_id}') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n"
            ).encode()
        )
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass
    await proc.wait()
    err = (await errors).decode(errors="replace").strip()
    if proc.returncode != 0:
        raise BackupError(f"psql failed: {err}")
