"""Queries on lines, calls, statistics and transcripts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.telephony.models import (
    Call,
    CallCard,
    ExternalLine,
    MissedCall,
    Statistic,
)


async def add(session: AsyncSession, obj: object) -> None:
    session.add(obj)
    await session.flush()


async def line(session: AsyncSession, owner: int, number: str) -> ExternalLine | None:
    stmt = select(ExternalLine).where(ExternalLine.owner == owner, ExternalLine.number == number)
    return (await session.execute(stmt)).scalar_one_or_none()


async def line_by_id(session: AsyncSession, line_id: int | None) -> ExternalLine | None:
    return await session.get(ExternalLine, line_id) if line_id else None


async def lines(session: AsyncSession, owner: int) -> Sequence[ExternalLine]:
    stmt = select(ExternalLine).where(ExternalLine.owner == owner).order_by(ExternalLine.id)
    return (await session.execute(stmt)).scalars().all()


async def open_call(session: AsyncSession, call_id: str) -> Call | None:
    stmt = select(Call).where(Call.call_id == call_id, Call.finished_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def dedup_candidate(
    session: AsyncSession,
    *,
    owner: int,
    user_id: int,
    caller_id: str,
    incoming: str,
    since: dt.datetime,
    line_id: int | None,
    external_call_id: str | None,
) -> Call | None:
    """An unfinished registration with the same keys in the last 30 minutes (behavior.md
    §3.1 step 11)."""
    stmt = select(Call).where(
        Call.owner == owner,
        Call.user_id == user_id,
        Call.caller_id == caller_id,
        Call.incoming == incoming,
        Call.finished_at.is_(None),
        Call.date_create > since,
    )
    if line_id is not None:
        stmt = stmt.where(Call.external_line_id == line_id)
    if external_call_id is not None:
        stmt = stmt.where(Call.external_call_id == external_call_id)
    stmt = stmt.order_by(Call.id.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_card(
    session: AsyncSession, call_id: str, user_ids: Sequence[int], state: str, now: dt.datetime
) -> None:
    for user_id in dict.fromkeys(user_ids):
        card = await session.get(CallCard, (call_id, user_id))
        if card is None:
            session.add(CallCard(call_id=call_id, user_id=user_id, state=state, changed_at=now))
        else:
            card.state, card.changed_at = state, now
    await session.flush()


async def cards(session: AsyncSession, call_id: str) -> Sequence[CallCard]:
    stmt = select(CallCard).where(CallCard.call_id == call_id).order_by(CallCard.user_id)
    return (await session.execute(stmt)).scalars().all()


async def statistic(session: AsyncSession, call_id: str, *, lock: bool = False) -> Statistic | None:
    stmt = select(Statistic).where(Statistic.call_id == call_id)
    if lock:
        stmt = stmt.with_for_update()  # concurrent attaches to one call take turns
    return (await session.execute(stmt)).scalar_one_or_none()


async def link_missed_callbacks(
    session: AsyncSession, phone: str, statistic_id: int, start: dt.datetime
) -> None:
    await session.execute(
        update(MissedCall)
        .where(MissedCall.phone_number == phone, MissedCall.callback_id.is_(None))
        .values(callback_id=statistic_id, callback_call_start_date=start)
    )
