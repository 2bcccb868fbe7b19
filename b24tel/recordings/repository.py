"""Queries on recording files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.recordings.models import RecordingFile


async def add(session: AsyncSession, row: RecordingFile) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, file_id: int) -> RecordingFile | None:
    return await session.get(RecordingFile, file_id)


async def live_files(session: AsyncSession) -> Sequence[RecordingFile]:
    """Rows whose bytes must exist (current and kept earlier versions)."""
    stmt = (
        select(RecordingFile).where(RecordingFile.deleted_at.is_(None)).order_by(RecordingFile.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def all_keys(session: AsyncSession) -> set[str]:
    stmt = select(RecordingFile.storage_key).where(RecordingFile.deleted_at.is_(None))
    return set((await session.execute(stmt)).scalars().all())


async def expired_versions(session: AsyncSession, before: dt.datetime) -> Sequence[RecordingFile]:
    stmt = select(RecordingFile).where(
        RecordingFile.replaced_at.is_not(None),
        RecordingFile.replaced_at < before,
        RecordingFile.deleted_at.is_(None),
    )
    return (await session.execute(stmt)).scalars().all()
