"""What the queue of a bridge holds (``b24tel bridge status``), and the hand on a stuck write:
try it again now, or skip it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.bridge.models import BridgeCall, BridgeItem
from b24tel.db.engine import Database
from b24tel.journal.models import JournalRow

WINDOW = dt.timedelta(minutes=5)  # the upstream's latency and errors: this recent
RATE_WINDOW = 60.0  # seconds: the rate used, calls a second over the last minute


@dataclass
class UpstreamFigures:
    """The portal's side, read from the request journal's upstream legs (every instance
    writes them): how fast it answers, how much of its rate is used, what went wrong."""

    journaled: bool = True
    calls: int = 0  # in the last five minutes
    p50_ms: float | None = None
    p99_ms: float | None = None
    per_second: float = 0.0  # over the last minute
    errors: list[dict[str, Any]] = field(default_factory=list)  # newest first

    def as_json(self) -> dict[str, Any]:
        return {"journaled": self.journaled, "calls_5min": self.calls, "p50_ms": self.p50_ms,
                "p99_ms": self.p99_ms, "per_second": self.per_second,
                "recent_errors": self.errors}  # fmt: skip


@dataclass
class QueueState:
    queued: int = 0
    failed: int = 0
    done: int = 0
    oldest: dt.datetime | None = None  # the oldest write still waiting
    last_forwarded: dt.datetime | None = None
    calls_ours: int = 0  # calls answered here whose register the portal has not taken yet
    recent: list[dict[str, Any]] = field(default_factory=list)  # waiting or failed, newest
    upstream: UpstreamFigures = field(default_factory=UpstreamFigures)

    def as_json(self) -> dict[str, Any]:
        return {"upstream_figures": self.upstream.as_json(),
            "queued": self.queued, "failed": self.failed, "done": self.done,
            "oldest_queued": self.oldest.isoformat() if self.oldest else None,
            "last_forwarded": self.last_forwarded.isoformat() if self.last_forwarded else None,
            "calls_waiting_for_a_portal_id": self.calls_ours, "items": self.recent,
        }  # fmt: skip


async def state(
    db: Database, now: dt.datetime, limit: int = 20, journaled: bool = True
) -> QueueState:
    counts, oldest = await depth(db)
    async with db.transaction(readonly=True) as s:
        last = await s.scalar(
            select(func.max(BridgeItem.done_at)).where(BridgeItem.state == "done")
        )
        ours = await s.scalar(
            select(func.count()).select_from(BridgeCall).where(BridgeCall.portal_id.is_(None))
        )
        rows = await s.scalars(
            select(BridgeItem).where(BridgeItem.state != "done")
            .order_by(BridgeItem.id.desc()).limit(limit)
        )  # fmt: skip
        recent = [
            {"id": r.id, "call_id": r.call_id, "method": r.method, "state": r.state,
             "attempts": r.attempts, "next_at": r.next_at.isoformat(), "error": r.error}
            for r in rows
        ]  # fmt: skip
        figures = await _upstream(s, now) if journaled else UpstreamFigures(journaled=False)
    return QueueState(
        queued=counts.get("queued", 0), failed=counts.get("failed", 0),
        done=counts.get("done", 0), oldest=oldest, last_forwarded=last,
        calls_ours=int(ours or 0), recent=recent, upstream=figures,
    )  # fmt: skip


async def depth(db: Database) -> tuple[dict[str, int], dt.datetime | None]:
    """Writes by state, and when the oldest one still waiting came."""
    async with db.transaction(readonly=True) as s:
        by_state = select(BridgeItem.state, func.count()).group_by(BridgeItem.state)
        counts = {state: int(n) for state, n in (await s.execute(by_state)).all()}
        oldest = await s.scalar(
            select(func.min(BridgeItem.created_at)).where(BridgeItem.state == "queued")
        )
    return counts, oldest


async def _upstream(s: AsyncSession, now: dt.datetime) -> UpstreamFigures:
    legs = (JournalRow.direction == "out") & (JournalRow.kind == "upstream")
    rows = (await s.execute(
        select(JournalRow.at, JournalRow.duration_ms).where(legs, JournalRow.at >= now - WINDOW)
        .order_by(JournalRow.id.desc()).limit(20_000)
    )).all()  # fmt: skip
    durations = sorted(d for _, d in rows)
    minute = now - dt.timedelta(seconds=RATE_WINDOW)
    failed = await s.execute(
        select(JournalRow).where(legs, (JournalRow.status >= 500) | (JournalRow.status == 0)
                                 | JournalRow.error.is_not(None))
        .order_by(JournalRow.id.desc()).limit(10)
    )  # fmt: skip
    return UpstreamFigures(
        calls=len(durations), p50_ms=_quantile(durations, 0.5), p99_ms=_quantile(durations, 0.99),
        per_second=round(sum(1 for at, _ in rows if at >= minute) / RATE_WINDOW, 2),
        errors=[{"at": r.at.isoformat(), "method": r.method, "status": r.status,
                 "error": r.error, "description": r.error_description}
                for r in failed.scalars()],
    )  # fmt: skip


def upstream_lines(figures: UpstreamFigures, rate: float) -> list[str]:
    """The portal's side in words (the CLI and the Bridge page)."""
    if not figures.journaled:
        return ["portal figures: none (the request journal is off)"]
    used = f"{figures.per_second:g} calls/s of {rate:g} ({figures.per_second / rate:.0%})"
    lines = [f"portal: {figures.calls} calls in 5 min, p50 {_ms(figures.p50_ms)}, "
             f"p99 {_ms(figures.p99_ms)}, {used}"]  # fmt: skip
    for e in figures.errors:
        lines.append(f"  {e['at']} {e['method']} HTTP {e['status']} {e['error'] or ''}".rstrip())
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def operations(db: Database, call_id: str) -> list[BridgeItem]:
    """A call's telephony writes as the bridge handled them, under our CALL_ID or the
    portal's: forwarded (state done), waiting, failed."""
    async with db.transaction(readonly=True) as s:
        ours = select(BridgeCall.local_id).where(BridgeCall.portal_id == call_id)
        rows = await s.scalars(
            select(BridgeItem)
            .where((BridgeItem.call_id == call_id) | BridgeItem.call_id.in_(ours))
            .order_by(BridgeItem.id)
        )
        return list(rows)


async def retry(db: Database, item_id: int, now: dt.datetime) -> bool:
    """A failed or waiting write tried again at once."""
    async with db.transaction() as s:
        changed = await s.execute(
            update(BridgeItem).where(BridgeItem.id == item_id, BridgeItem.state != "done")
            .values(state="queued", next_at=now, error=None, done_at=None)
        )  # fmt: skip
    return bool(changed.rowcount)  # type: ignore[attr-defined]


async def skip(db: Database, item_id: int, now: dt.datetime) -> bool:
    """A waiting write given up on (marked failed): the call's next writes go on."""
    async with db.transaction() as s:
        changed = await s.execute(
            update(BridgeItem).where(BridgeItem.id == item_id, BridgeItem.state == "queued")
            .values(state="failed", error="skipped by an operator", done_at=now)
        )  # fmt: skip
    return bool(changed.rowcount)  # type: ignore[attr-defined]
