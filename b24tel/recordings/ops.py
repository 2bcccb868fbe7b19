"""``b24tel recordings verify`` and ``gc``: checking that rows and objects agree, and
removing what nothing needs any more."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from b24tel.db.engine import Database
from b24tel.recordings import partfiles
from b24tel.recordings import repository as repo
from b24tel.recordings.service import Recordings
from b24tel.recordings.storage import LocalStorage, S3Storage


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


async def verify(db: Database, recordings: Recordings) -> Report:
    """Every live row has an object of the right size and hash; every object has a row."""
    report = Report()
    storage = recordings.storage
    async with db.transaction(readonly=True) as s:
        rows = list(await repo.live_files(s))
    keys = set()
    for row in rows:
        keys.add(row.storage_key)
        report.checked += 1
        try:
            info = await storage.stat(row.storage_key)
        except FileNotFoundError:
            report.problems.append(f"file {row.id}: object {row.storage_key} is missing")
            continue
        if info.size != row.size:
            report.problems.append(
                f"file {row.id}: object {row.storage_key} has {info.size} bytes, "
                f"the row says {row.size}"
            )
            continue
        digest = hashlib.sha256()
        async for chunk in storage.open(row.storage_key):
            digest.update(chunk)
        if digest.hexdigest() != row.sha256:
            report.problems.append(
                f"file {row.id}: object {row.storage_key} has a different "
                f"sha256 ({digest.hexdigest()})"
            )
    async for obj in storage.list():
        if obj.key not in keys:
            report.problems.append(f"object {obj.key} ({obj.size} bytes) has no file row")
    for path, size in partfiles.abandoned(_part_files(recordings), recordings.clock.now()):
        report.problems.append(
            f"interrupted write {path.name} ({size} bytes) left behind; "
            "`b24tel recordings gc` removes it"
        )
    return report


def _part_files(recordings: Recordings) -> list[Path]:
    """Files a write in progress uses: staging files and local objects on their way."""
    paths = list(recordings.staging_dir.glob("ingest-*.part"))
    storage = recordings.storage
    if isinstance(storage, LocalStorage):
        paths += [p for p, _ in storage.temp_files() if p not in paths]
    return paths


async def gc(
    db: Database, recordings: Recordings, *, retention_days: int, orphan_age: float
) -> Report:
    """Remove replaced versions past retention, objects without a row older than
    ``orphan_age`` seconds, and leftovers of interrupted writes that no writer holds."""
    report = Report()
    storage = recordings.storage
    now = recordings.clock.now()
    async with db.transaction() as s:
        for row in await repo.expired_versions(s, now - dt.timedelta(days=retention_days)):
            with contextlib.suppress(FileNotFoundError):
                await storage.delete(row.storage_key)
            row.deleted_at, row.deleted_reason = now, "replaced"
            report.actions.append(
                f"removed file {row.id} (replaced {row.replaced_at:%Y-%m-%d}, "
                f"past {retention_days} days): {row.storage_key}"
            )
    async with db.transaction(readonly=True) as s:
        keys = await repo.all_keys(s)
    cutoff = now - dt.timedelta(seconds=orphan_age)
    async for obj in storage.list():
        if obj.key not in keys and obj.modified <= cutoff:
            await storage.delete(obj.key)
            report.actions.append(f"removed orphaned object {obj.key} ({obj.size} bytes)")
    # whatever their age: a file no writer holds is debris (partfiles)
    grace = min(partfiles.GRACE, dt.timedelta(seconds=orphan_age))
    for path, size in partfiles.abandoned(_part_files(recordings), now, grace):
        path.unlink(missing_ok=True)
        report.actions.append(f"removed interrupted write {path.name} ({size} bytes)")
    if isinstance(storage, S3Storage):
        for key, upload_id in await storage.stale_uploads(cutoff):
            await storage.abort_upload(key, upload_id)
            report.actions.append(f"aborted unfinished multipart upload of {key}")
    return report
