"""``b24tel restore FILE``: a backup (ops/backup) into an empty target — a data dir and a
database without tables, of the backup's kinds.

It leaves a marker in the data dir while it works and writes the backup's id into the
restored database in the same step that makes it appear (a rename for SQLite, one
transaction for PostgreSQL), so a restore killed at any point is finished by running it
again."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24tel.config import Settings
from b24tel.ops.backup import (
    FORMAT,
    MANIFEST,
    BackupError,
    Outcome,
    check_remote,
    libpq,
    storage_kind,
    tool,
)
from b24tel.recordings.storage import LocalStorage, RecordingStorage

MARKER = ".restore-in-progress"
RESTORED_KEY = "restored_backup"  # server_state: the backup a database was restored from


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
                problem = await check_remote(storage, entry["key"], entry["size"])
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
    if manifest["storage"] != storage_kind(storage):
        raise BackupError(
            f"this backup was made with {manifest['storage']} recordings and storage_url "
            f"points at {storage_kind(storage)} storage"
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
    psql = tool("psql")
    args, env = libpq(url)
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
