"""Queries of the web pages: the call journal with its filters, sorting and export, the
names of CRM entities and users shown beside calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, column, false, func, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.crm.fields import ENTITIES
from b24tel.db.engine import Database
from b24tel.telephony.models import ExternalLine, Statistic, Transcript, TranscriptLine
from b24tel.telephony.outcomes import DIRECTIONS, with_outcome
from b24tel.users.models import User
from b24tel.wire.numbers import ascii_int

PAGE_SIZE = 50
# the shortest part of a number the journal's filter looks for inside numbers
PARTIAL_DIGITS = 4
EXPORT_CHUNK = 1000
SORTS = {
    "time": Statistic.call_start_date,
    "duration": Statistic.call_duration,
    "number": Statistic.phone_number,
    "user": Statistic.portal_user_id,
}
# CALL_TYPE (docs/reference/telephony.md, "register")
# CALL_FAILED_CODE: 200 answered, 304 missed; any other code failed
STATUSES = ("answered", "missed", "failed")


@dataclass(frozen=True)
class CallFilter:
    date_from: str = ""
    date_to: str = ""
    phone: str = ""
    user: str = ""
    direction: str = ""
    status: str = ""
    line: str = ""
    recording: str = ""  # "", "yes", "no"
    transcript: str = ""
    q: str = ""  # words in the transcript
    entity: str = ""  # CONTACT:7
    sort: str = "time"
    order: str = "desc"
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, Any]) -> CallFilter:
        def get(name: str) -> str:
            value = query.get(name)
            return value.strip()[:200] if isinstance(value, str) else ""

        page = get("page")
        return cls(
            **{
                name: get(name)
                for name in (
                    "date_from",
                    "date_to",
                    "phone",
                    "user",
                    "direction",
                    "status",
                    "line",
                    "recording",
                    "transcript",
                    "q",
                    "entity",
                )
            },
            sort=get("sort") if get("sort") in SORTS else "time",
            order="asc" if get("order") == "asc" else "desc",
            page=max(1, min(ascii_int(page) or 1, 10**6)),
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters (for links that keep it), with ``changes``."""
        values = {k: str(v) for k, v in vars(self).items() if v not in ("", None)}
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


def _day(text_value: str, tz: ZoneInfo, *, end: bool) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(text_value)
    except ValueError:
        return None
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return (start + dt.timedelta(days=1) if end else start).astimezone(dt.UTC)


def _conditions(
    f: CallFilter, viewer: int, admin: bool, tz: ZoneInfo, region: str, dialect: str
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not admin:
        where.append(Statistic.portal_user_id == viewer)  # people see their own calls
    if (start := _day(f.date_from, tz, end=False)) is not None:
        where.append(Statistic.call_start_date >= start)
    if (stop := _day(f.date_to, tz, end=True)) is not None:
        where.append(Statistic.call_start_date < stop)
    if f.phone:
        where.append(_phone_matches(f.phone, region))
    if (user_id := ascii_int(f.user)) is not None:
        where.append(Statistic.portal_user_id == user_id)
    if f.direction in DIRECTIONS:
        where.append(Statistic.incoming == f.direction)
    if (by_outcome := with_outcome(f.status)) is not None:
        where.append(by_outcome)
    if f.line:
        where.append(Statistic.portal_number == f.line)
    if f.recording in ("yes", "no"):
        has = Statistic.record_file_id.is_not(None)
        where.append(has if f.recording == "yes" else ~has)
    if f.transcript in ("yes", "no"):
        has = Statistic.transcript_id.is_not(None)
        where.append(has if f.transcript == "yes" else ~has)
    if f.q:
        where.append(Statistic.call_id.in_(_transcript_search(f.q, dialect)))
    entity_type, _, entity_id = f.entity.partition(":")
    if entity_type in ENTITIES and ascii_int(entity_id) is not None:
        where.append(
            and_(
                Statistic.crm_entity_type == entity_type, Statistic.crm_entity_id == int(entity_id)
            )
        )
    return where


def _phone_matches(typed: str, region: str) -> ColumnElement[bool]:
    """The number as typed in any spelling (``8 (916) 123-45-67``, ``+7916…``), or any part
    of it of at least PARTIAL_DIGITS digits (``123-45``)."""
    key = (phones.normalize(typed, region) or "")[:50]
    digits = "".join(ch for ch in typed if "0" <= ch <= "9")[:50]
    if len(digits) < PARTIAL_DIGITS:
        return Statistic.phone_normalized == key
    # digits only: nothing in the pattern is a wildcard
    return or_(Statistic.phone_normalized == key, Statistic.phone_normalized.contains(digits))


def _words(typed: str) -> list[str]:
    """The words of a search, letters and digits only (no query syntax gets through)."""
    words = ("".join(c for c in word if c.isalnum()) for word in typed.split())
    return [w for w in words if w][:20]


def _transcript_search(words: str, dialect: str) -> Select[Any]:
    """Calls whose transcript has every word, each as a word or the start of one (``ord``
    finds "order"): FTS5 prefix queries on SQLite, a GIN-indexed tsvector on PostgreSQL
    (migration 0009)."""
    wanted = _words(words)
    if not wanted:  # nothing but punctuation: no transcript has it
        return select(Transcript.call_id).where(false())
    if dialect == "postgresql":
        query = " & ".join(f"{w}:*" for w in wanted)
        match = text(
            "to_tsvector('simple', tel_transcript_lines.message) @@ to_tsquery('simple', :words)"
        ).bindparams(words=query)
        lines = select(TranscriptLine.transcript_id).where(match)
    else:
        quoted = " ".join(f'"{w}"*' for w in wanted)
        fts = table("tel_transcript_fts", column("rowid"))
        lines = (
            select(TranscriptLine.transcript_id)
            .join(fts, fts.c.rowid == TranscriptLine.id)
            .where(text("tel_transcript_fts MATCH :words").bindparams(words=quoted))
        )
    return select(Transcript.call_id).where(Transcript.id.in_(lines))


class CallQuery:
    """The journal as one person sees it, filtered."""

    def __init__(
        self, f: CallFilter, viewer: int, admin: bool, tz: ZoneInfo, region: str, dialect: str
    ) -> None:
        self.filter = f
        self.where = _conditions(f, viewer, admin, tz, region, dialect)

    def _ordered(self) -> Select[Any]:
        column = SORTS[self.filter.sort]
        first = column.asc() if self.filter.order == "asc" else column.desc()
        tie = Statistic.id.asc() if self.filter.order == "asc" else Statistic.id.desc()
        return select(Statistic).where(*self.where).order_by(first, tie)

    async def page(self, s: AsyncSession) -> tuple[Sequence[Statistic], int]:
        total = await s.scalar(select(func.count()).select_from(Statistic).where(*self.where))
        offset = (self.filter.page - 1) * PAGE_SIZE
        rows = await s.scalars(self._ordered().offset(offset).limit(PAGE_SIZE))
        return list(rows), int(total or 0)

    async def chunks(self, db: Database) -> AsyncIterator[Sequence[Statistic]]:
        """Every matching row, EXPORT_CHUNK at a time, each chunk in its own short read:
        an export of any size holds one chunk in memory and no transaction open."""
        after: int | None = None
        while True:
            stmt = select(Statistic).where(*self.where).order_by(Statistic.id.desc())
            if after is not None:
                stmt = stmt.where(Statistic.id < after)
            async with db.transaction(readonly=True) as s:
                rows = (await s.execute(stmt.limit(EXPORT_CHUNK))).scalars().all()
            if not rows:
                return
            yield rows
            after = rows[-1].id


async def entity_names(
    s: AsyncSession, pairs: Sequence[tuple[str | None, int | None]]
) -> dict[tuple[str, int], str]:
    """ "Ivan Petrov" for ("CONTACT", 7): the names shown beside calls."""
    wanted: dict[str, set[int]] = {}
    for kind, ident in pairs:
        if kind in ENTITIES and ident:
            wanted.setdefault(kind, set()).add(ident)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        model: Any = ENTITIES[kind].model
        for row in (await s.execute(select(model).where(model.id.in_(ids)))).scalars():
            names[(kind, row.id)] = display_name(kind, row)
    return names


def display_name(kind: str, row: Any) -> str:
    person = " ".join(p for p in (getattr(row, "name", None), getattr(row, "last_name", None)) if p)
    title = getattr(row, "title", None)
    return person or title or f"{ENTITIES[kind].title} #{row.id}"


async def user_names(s: AsyncSession, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = (await s.execute(select(User).where(User.id.in_(wanted)))).scalars()
    return {u.id: " ".join(p for p in (u.name, u.last_name) if p) or f"User {u.id}" for u in rows}


async def users(s: AsyncSession) -> Sequence[User]:
    return (await s.execute(select(User).order_by(User.id).limit(500))).scalars().all()


async def lines(s: AsyncSession) -> list[str]:
    stmt = select(ExternalLine.number).distinct().order_by(ExternalLine.number).limit(200)
    return [n for n in (await s.execute(stmt)).scalars() if n]


async def line_names(s: AsyncSession) -> dict[str, str]:
    """The name of each external line by its number ("" for a line without one)."""
    stmt = select(ExternalLine.number, ExternalLine.name).order_by(ExternalLine.id).limit(10_000)
    names: dict[str, str] = {}
    for number, name in await s.execute(stmt):
        if number and not names.get(number):
            names[number] = name or ""
    return names
