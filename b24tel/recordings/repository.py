"""Queries on recording files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.hot import Query
from b24tel.recordings.models import RecordingFile

# an earlier version: marked once, by the file that replaced it
REPLACED = Query(
    update(RecordingFile)
    .where(RecordingFile.id == bindparam("by"), RecordingFile.replaced_at.is_(None))
    .values(
        replaced_at=bindparam("at", type_=RecordingFile.replaced_at.type),
        replaced_by=bindparam("new_id"),
    )
)


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


async def created_before(
    session: AsyncSession, before: dt.datetime, after_id: int, limit: int
) -> Sequence[RecordingFile]:
    """Files with bytes stored before `before` (current and earlier versions), by id."""
    stmt = (
        select(RecordingFile)
        .where(
            RecordingFile.deleted_at.is_(None),
            RecordingFile.created_at < before,
            RecordingFile.id > after_id,
        )
        .order_by(RecordingFile.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def of_calls(session: AsyncSession, call_ids: Sequence[str]) -> Sequence[RecordingFile]:
    """Every file of these calls whose bytes are kept, every version."""
    stmt = (
        select(RecordingFile)
        .where(RecordingFile.call_id.in_(call_ids), RecordingFile.deleted_at.is_(None))
        .order_by(RecordingFile.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def erased_of_calls(
    session: AsyncSession, call_ids: Sequence[str]
) -> Sequence[RecordingFile]:
    stmt = select(RecordingFile).where(
        RecordingFile.call_id.in_(call_ids), RecordingFile.deleted_reason == "erasure"
    )
    return (await session.execute(stmt)).scalars().all()


async def mark_deleted(
    session: AsyncSession, ids: Sequence[int], at: dt.datetime, reason: str
) -> None:
    if ids:
        await session.execute(
            update(RecordingFile)
            .where(RecordingFile.id.in_(ids), RecordingFile.deleted_at.is_(None))
            .values(deleted_at=at, deleted_reason=reason)
        )
