"""The recording store: ingest → inspect → store the blob → (the caller commits the row).

Durability order (docs/architecture.md, "Recordings"): the bytes go to a staging file, are
inspected, then stored under their final key and checked by size; only then does the caller
commit the database row that points at them; a replaced file is kept as an earlier version.
A crash at any point leaves either the old recording or the new one; leftovers are
unreferenced objects that ``b24tel recordings gc`` removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import deadline
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.config_values import spool_dir
from b24tel.db import hot
from b24tel.db.engine import Database
from b24tel.db.hot import Tx, as_tx
from b24tel.recordings import audio
from b24tel.recordings import repository as repo
from b24tel.recordings.errors import StoreError
from b24tel.recordings.ingest import Base64Decoder, Staging, consume, consume_async
from b24tel.recordings.models import RecordingFile
from b24tel.recordings.storage import LocalStorage, RecordingStorage, open_storage

log = logging.getLogger("b24tel.recordings")


@dataclass(frozen=True)
class Sealed:
    """A staged recording checked and named; ``placed``: the size stored under ``key``
    when the storage already has it (else the event loop stores it)."""

    sha256: str
    info: audio.AudioInfo
    key: str
    placed: int | None


@dataclass(frozen=True)
class StoredRecording:
    key: str
    size: int
    sha256: str
    info: audio.AudioInfo


class Recordings:
    def __init__(self, storage: RecordingStorage, staging_dir: Path, clock: Clock) -> None:
        self.storage = storage
        self.staging_dir = staging_dir
        self.clock = clock

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> Recordings:
        """The store the settings name (also for the commands that need only it, without
        the app)."""
        storage = open_storage(
            settings.storage_url, data_dir=settings.data_dir, s3=settings.s3_options()
        )
        # staging beside the recordings when they are local, so storing is a rename
        if isinstance(storage, LocalStorage):
            return cls(storage, storage.tmp, clock)
        return cls(storage, spool_dir(settings.data_dir), clock)

    # --- ingestion ----------------------------------------------------------------------

    async def from_base64(self, text: Iterable[bytes], folder: str) -> StoredRecording:
        """Base64 text (spooled request value, or a string) → a stored recording."""
        with deadline.paused():  # bytes on their way: request_deadline does not count them
            # the staging file made, filled, synced, inspected and (on local storage) moved
            # into place in one hand-off: none of its system calls on the event loop
            staging, sealed = await asyncio.to_thread(self._stage_base64, text, folder)
            try:
                return await self._store(staging, sealed)
            finally:
                staging.discard()

    def _stage_base64(self, text: Iterable[bytes], folder: str) -> tuple[Staging, Sealed]:
        staging = Staging(self.staging_dir)
        try:
            consume(text, Base64Decoder(staging))
            return staging, self._seal(staging, folder)
        except BaseException:
            staging.discard()
            raise

    async def from_stream(
        self, chunks: AsyncIterable[bytes], folder: str, limit: int | None = None
    ) -> StoredRecording:
        staging = Staging(self.staging_dir)
        try:
            with deadline.paused():
                await consume_async(chunks, staging, limit)
                return await self._finish(staging, folder)
        finally:
            staging.discard()

    async def from_staging(self, staging: Staging, folder: str) -> StoredRecording:
        """A staging file another reader filled (the multipart upload)."""
        try:
            with deadline.paused():
                return await self._finish(staging, folder)
        finally:
            staging.discard()

    def new_staging(self) -> Staging:
        return Staging(self.staging_dir)

    async def _finish(self, staging: Staging, folder: str) -> StoredRecording:
        sealed = await asyncio.to_thread(self._seal, staging, folder)
        return await self._store(staging, sealed)

    def _seal(self, staging: Staging, folder: str) -> Sealed:
        """On a worker thread: the staging file synced, hashed and inspected (NotARecording),
        then placed under its key where the storage can do that here (a local rename)."""
        sha256, info = staging.finish(), audio.inspect(staging.path)
        key = f"{folder}/{uuid.uuid4().hex}.{info.extension}"
        return Sealed(sha256, info, key, self.storage.place_here(key, staging.path))

    async def _store(self, staging: Staging, sealed: Sealed) -> StoredRecording:
        key, size = sealed.key, sealed.placed
        if size is None:
            await self.storage.store_file(key, staging.path)
            size = (await self.storage.stat(key)).size
        if size != staging.size:
            await self.discard_key(key)
            raise StoreError(f"stored {size} bytes of {staging.size}")
        return StoredRecording(key, staging.size, sealed.sha256, sealed.info)

    async def discard(self, stored: StoredRecording) -> None:
        """Undo a store whose database row was not committed."""
        await self.discard_key(stored.key)

    async def discard_key(self, key: str) -> None:
        try:
            await self.storage.delete(key)
        except Exception:  # gc finds it later
            log.warning("could not remove unreferenced object %s", key, exc_info=True)

    # --- rows ---------------------------------------------------------------------------

    async def add_file(
        self,
        where: AsyncSession | Tx,
        stored: StoredRecording,
        *,
        name: str,
        folder: str,
        owner_id: int | None,
        call_id: str | None,
        source: str,
        source_url: str | None = None,
    ) -> RecordingFile:
        now = self.clock.now()
        row = RecordingFile(
            name=name[:255],
            folder=folder,
            owner_id=owner_id,
            call_id=call_id,
            created_at=now,
            updated_at=now,
            size=stored.size,
            sha256=stored.sha256,
            content_type=stored.info.content_type,
            codec=stored.info.codec,
            duration=stored.info.duration,
            channels=stored.info.channels,
            sample_rate=stored.info.sample_rate,
            bit_rate=stored.info.bit_rate,
            storage_key=stored.key,
            source=source,
            source_url=source_url,
        )
        await hot.add(await as_tx(where), row)  # outside any session: read its id only
        return row

    async def mark_replaced(
        self, session: AsyncSession | Tx, old_id: int | None, new: RecordingFile
    ) -> None:
        """The old file stays, as an earlier version, until retention ends."""
        if old_id is None or old_id == new.id:
            return
        await (await as_tx(session)).run(
            repo.REPLACED, at=self.clock.now(), new_id=new.id, by=old_id
        )

    # --- removal ------------------------------------------------------------------------

    async def remove_files(self, db: Database, rows: Sequence[RecordingFile], reason: str) -> None:
        """Remove the bytes of these files, then mark their rows deleted (for `reason`).

        Objects first: a crash in between leaves live rows whose objects are already gone,
        which the rerun that finishes the job deletes again (a missing object is fine) and
        marks; the other order would leave objects no row points at. One short
        transaction per call — no lock is held while the storage works."""
        for row in rows:
            with contextlib.suppress(FileNotFoundError):
                await self.storage.delete(row.storage_key)
        async with db.transaction() as session:
            await repo.mark_deleted(session, [r.id for r in rows], self.clock.now(), reason)


def folder_of(start: dt.datetime, tz: dt.tzinfo) -> str:
    """``YYYY-MM`` of the call start in the portal's zone (docs/reference/telephony.md,
    "attachRecord")."""
    return start.astimezone(tz).strftime("%Y-%m")
