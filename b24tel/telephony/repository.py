"""Queries on lines, calls, statistics and transcripts."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import Select, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.telephony.models import (
    Call,
    CallCard,
    ExternalLine,
    MissedCall,
    Statistic,
)

# card changes of a unit of work: [{"call_id", "user_id", "state"}] (b24tel.web.live)
CARDS = "b24tel.cards"
CARD_CHANNEL = "b24tel_cards"


async def add(session: AsyncSession, obj: object) -> None:
    session.add(obj)
    await session.flush()


# statements of the register path, built once: building one costs more than running it on
# SQLite (bench/flow.py)
_LINE = select(ExternalLine).where(
    ExternalLine.owner == bindparam("owner"), ExternalLine.number == bindparam("number")
)


async def line(session: AsyncSession, owner: int, number: str) -> ExternalLine | None:
    found = await session.execute(_LINE, {"owner": owner, "number": number})
    return found.scalar_one_or_none()


async def line_by_id(session: AsyncSession, line_id: int | None) -> ExternalLine | None:
    return await session.get(ExternalLine, line_id) if line_id else None


async def lines(session: AsyncSession, owner: int) -> Sequence[ExternalLine]:
    stmt = select(ExternalLine).where(ExternalLine.owner == owner).order_by(ExternalLine.id)
    return (await session.execute(stmt)).scalars().all()


async def open_call(session: AsyncSession, call_id: str, *, lock: bool = False) -> Call | None:
    """An unfinished call. ``lock``: for finishing it — a second finish of the same call
    waits for the first to commit and then finds no open call (PostgreSQL re-checks the
    condition on the committed row; SQLite has one writer at a time)."""
    stmt = select(Call).where(Call.call_id == call_id, Call.finished_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def serialize_registration(
    session: AsyncSession, owner: int, user_id: int, caller_id: str, incoming: str
) -> None:
    """Make registrations of the same call take turns until commit, on every instance that
    shares the database, so the dedup lookup after it sees the other's call
    (docs/reference/telephony.md, "register": concurrent identical registers are one call).
    PostgreSQL: a transaction advisory lock on the dedup key; SQLite: write transactions are
    serial already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"register|{owner}|{user_id}|{caller_id}|{incoming}".encode())
    key = int.from_bytes(digest.digest()[:8], "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


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
    """An unfinished registration with the same keys in the last 30 minutes
    (docs/reference/telephony.md, "register")."""
    values = {
        "owner": owner,
        "user_id": user_id,
        "caller_id": caller_id,
        "incoming": incoming,
        "since": since,
        "line_id": line_id,
        "external_call_id": external_call_id,
    }
    stmt = _dedup_statement(line_id is not None, external_call_id is not None)
    return (await session.execute(stmt, values)).scalar_one_or_none()


@functools.cache
def _dedup_statement(by_line: bool, by_external_id: bool) -> Select[Call]:
    stmt = select(Call).where(
        Call.owner == bindparam("owner"),
        Call.user_id == bindparam("user_id"),
        Call.caller_id == bindparam("caller_id"),
        Call.incoming == bindparam("incoming"),
        Call.finished_at.is_(None),
        Call.date_create > bindparam("since"),
    )
    if by_line:
        stmt = stmt.where(Call.external_line_id == bindparam("line_id"))
    if by_external_id:
        stmt = stmt.where(Call.external_call_id == bindparam("external_call_id"))
    return stmt.order_by(Call.id.desc()).limit(1)


async def set_card(
    session: AsyncSession, call_id: str, user_ids: Sequence[int], state: str, now: dt.datetime
) -> None:
    """Show or hide the card for each user; an upsert, so concurrent shows never collide."""
    await session.flush()
    rows = [
        {"call_id": call_id, "user_id": uid, "state": state, "changed_at": now}
        for uid in dict.fromkeys(user_ids)
    ]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(CallCard).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CallCard.call_id, CallCard.user_id],
        set_={"state": stmt.excluded.state, "changed_at": stmt.excluded.changed_at},
    )
    await session.execute(stmt)
    await _announce(session, call_id, list(dict.fromkeys(user_ids)), state)


async def _announce(session: AsyncSession, call_id: str, user_ids: list[int], state: str) -> None:
    """Tell open pages that a card appeared or went: after this process's commit
    (``CARDS`` in the unit of work's info, read by the database's after-commit hooks), and
    on PostgreSQL to every instance (NOTIFY is delivered at commit, not on rollback)."""
    changes = [{"call_id": call_id, "user_id": uid, "state": state} for uid in user_ids]
    session.info.setdefault(CARDS, []).extend(changes)
    if session.get_bind().dialect.name == "postgresql":
        for change in changes:
            payload = json.dumps(change, separators=(",", ":"))  # a CALL_ID is ≤ 255
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CARD_CHANNEL, "payload": payload},
            )


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
