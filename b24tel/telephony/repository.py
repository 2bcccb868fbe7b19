"""Queries on lines, calls, statistics and transcripts."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.cache import cached
from b24tel.db.hot import Query, Tx, as_tx, insert, table_of, update
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


# built once: building a statement costs more than running it on SQLite (bench/flow.py)
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


def _all_of(model: type[Any], *where: Any, lock: bool = False) -> Query:
    stmt = select(*table_of(model).columns).where(*where)
    return Query(stmt.with_for_update() if lock else stmt)


_OPEN_CALL = {
    lock: _all_of(Call, Call.call_id == bindparam("call_id"), Call.finished_at.is_(None), lock=lock)
    for lock in (False, True)
}  # fmt: skip
_STATISTIC = {
    lock: _all_of(Statistic, Statistic.call_id == bindparam("call_id"), lock=lock)
    for lock in (False, True)
}
# attachRecord: the statistic points at its new recording
STAT_RECORD = update(Statistic, "id", ("record_file_id", "call_record_url"))


async def _transient(tx: Tx, q: Query, model: type[Any], **params: Any) -> Any:
    """One row as an object of ``model`` outside any session (read, not written back)."""
    row = await tx.first(q, **params)
    if row is None:
        return None
    return model(**dict(zip(table_of(model).columns.keys(), row, strict=True)))


async def open_call_row(tx: Tx, call_id: str, *, lock: bool = False) -> Call | None:
    """``open_call`` through Core; the call is read, its changes go through statements."""
    found: Call | None = await _transient(tx, _OPEN_CALL[lock], Call, call_id=call_id)
    return found


async def statistic_row(tx: Tx, call_id: str, *, lock: bool = False) -> Statistic | None:
    found: Statistic | None = await _transient(tx, _STATISTIC[lock], Statistic, call_id=call_id)
    return found


async def open_call(session: AsyncSession, call_id: str, *, lock: bool = False) -> Call | None:
    """An unfinished call. ``lock``: for finishing it — a second finish of the same call
    waits for the first to commit and then finds no open call (PostgreSQL re-checks the
    condition on the committed row; SQLite has one writer at a time)."""
    stmt = select(Call).where(Call.call_id == call_id, Call.finished_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


_ADVISORY_LOCK = Query(text("SELECT pg_advisory_xact_lock(:key)"))


async def serialize_registration(
    tx: Tx, owner: int, user_id: int, caller_id: str, incoming: str
) -> None:
    """Make registrations of the same call take turns until commit, on every instance that
    shares the database, so the dedup lookup after it sees the other's call
    (docs/reference/telephony.md, "register": concurrent identical registers are one call).
    PostgreSQL: a transaction advisory lock on the dedup key; SQLite: write transactions are
    serial already."""
    if tx.dialect != "postgresql":
        return
    digest = hashlib.sha256(f"register|{owner}|{user_id}|{caller_id}|{incoming}".encode())
    key = int.from_bytes(digest.digest()[:8], "big", signed=True)
    await tx.rows(_ADVISORY_LOCK, key=key)


@dataclass(frozen=True)
class Registered:
    """What register answers about a call (also on a dedup hit)."""

    call_id: str
    crm_created_lead: int | None
    crm_created_entities: list[Any] | None
    crm_entity_type: str | None
    crm_entity_id: int | None


async def dedup_candidate(
    tx: Tx,
    *,
    owner: int,
    user_id: int,
    caller_id: str,
    incoming: str,
    since: dt.datetime,
    line_id: int | None,
    external_call_id: str | None,
) -> Registered | None:
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
    row = await tx.first(_dedup_query(line_id is not None, external_call_id is not None), **values)
    return Registered(*row) if row is not None else None


@functools.cache
def _dedup_query(by_line: bool, by_external_id: bool) -> Query:
    c = table_of(Call).c
    stmt = select(c.call_id, c.crm_created_lead, c.crm_created_entities, c.crm_entity_type,
                  c.crm_entity_id).where(
        c.owner == bindparam("owner"),
        c.user_id == bindparam("user_id"),
        c.caller_id == bindparam("caller_id"),
        c.incoming == bindparam("incoming"),
        c.finished_at.is_(None),
        c.date_create > bindparam("since", type_=c.date_create.type),
    )  # fmt: skip
    if by_line:
        stmt = stmt.where(c.external_line_id == bindparam("line_id"))
    if by_external_id:
        stmt = stmt.where(c.external_call_id == bindparam("external_call_id"))
    return Query(stmt.order_by(c.id.desc()).limit(1))


NEW_CALL = insert(Call, (
    "call_id", "external_call_id", "owner", "rest_app_id", "user_id", "portal_user_id",
    "incoming", "caller_id", "date_create", "external_line_id", "portal_number",
    "crm_bindings", "crm_entity_type", "crm_entity_id", "crm_created_lead",
    "crm_created_entities", "created_at",
), returning=None)  # fmt: skip
# what a lead created by register adds to its call
CALL_CRM_COLUMNS = ("crm_bindings", "crm_entity_type", "crm_entity_id", "crm_created_lead",
                    "crm_created_entities")  # fmt: skip
CALL_CRM = update(Call, "call_id", CALL_CRM_COLUMNS)
CALL_FINISHED = update(Call, "id", ("finished_at",))


@dataclass(frozen=True)
class LineRow:
    id: int
    number: str
    normalized_number: str


_LINE_ROW = Query(
    select(ExternalLine.id, ExternalLine.number, ExternalLine.normalized_number).where(
        ExternalLine.owner == bindparam("owner"), ExternalLine.number == bindparam("number")
    )
)


async def line_row(tx: Tx, owner: int, number: str) -> LineRow | None:
    async def load() -> LineRow | None:
        row = await tx.first(_LINE_ROW, owner=owner, number=number)
        return LineRow(*row) if row is not None else None

    return await cached(tx, "lines", (owner, number), load)


async def add_line_if_missing(tx: Tx, values: dict[str, Any]) -> None:
    """Insert a line unless another request has just done so (the unique key decides)."""
    await tx.run(_new_line_query(tx.dialect), **values)


@functools.cache
def _new_line_query(dialect: str) -> Query:
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    c = table_of(ExternalLine).c
    columns = ("owner", "number", "name", "crm_auto_create", "normalized_number", "created_at")
    stmt = (
        insert_(table_of(ExternalLine))
        .values({k: bindparam(f"new_{k}", type_=c[k].type) for k in columns})
        .on_conflict_do_nothing(index_elements=[c.owner, c.number])
    )
    return Query(stmt, names={f"new_{k}": k for k in columns})


_CARD = Query(
    text(
        "INSERT INTO tel_call_cards (call_id, user_id, state, changed_at)"
        " VALUES (:call_id, :user_id, :state, :changed_at)"
        " ON CONFLICT (call_id, user_id) DO UPDATE"
        " SET state = excluded.state, changed_at = excluded.changed_at"
    ).bindparams(bindparam("changed_at", type_=table_of(CallCard).c.changed_at.type))
)
_NOTIFY = Query(text("SELECT pg_notify(:channel, :payload)"))


async def set_card(
    where: AsyncSession | Tx, call_id: str, user_ids: Sequence[int], state: str, now: dt.datetime
) -> None:
    """Show or hide the card for each user; an upsert, so concurrent shows never collide."""
    tx = await as_tx(where)
    users = list(dict.fromkeys(user_ids))
    for uid in users:
        await tx.run(_CARD, call_id=call_id, user_id=uid, state=state, changed_at=now)
    if users:
        await _announce(tx, call_id, users, state)


async def _announce(tx: Tx, call_id: str, user_ids: list[int], state: str) -> None:
    """Tell open pages that a card appeared or went: after this process's commit
    (``CARDS`` in the unit of work's info, read by the database's after-commit hooks), and
    on PostgreSQL to every instance (NOTIFY is delivered at commit, not on rollback)."""
    changes = [{"call_id": call_id, "user_id": uid, "state": state} for uid in user_ids]
    tx.info.setdefault(CARDS, []).extend(changes)
    if tx.dialect == "postgresql":
        for change in changes:
            payload = json.dumps(change, separators=(",", ":"))  # a CALL_ID is ≤ 255
            await tx.rows(_NOTIFY, channel=CARD_CHANNEL, payload=payload)


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
        sa_update(MissedCall)
        .where(MissedCall.phone_number == phone, MissedCall.callback_id.is_(None))
        .values(callback_id=statistic_id, callback_call_start_date=start)
    )
