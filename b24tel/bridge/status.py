"""What the queue of a bridge holds (``b24tel bridge status``), and the hand on a stuck write:
try it again now, or skip it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from b24tel.bridge.models import BridgeCall, BridgeItem
from b24tel.db.engine import Database


@dataclass
class QueueState:
    queued: int = 0
    failed: int = 0
    done: int = 0
    oldest: dt.datetime | None = None  # the oldest write still waiting
    last_forwarded: dt.datetime | None = None
    calls_ours: int = 0  # calls answered here whose register the portal has not taken yet
    recent: list[dict[str, Any]] = field(default_factory=list)  # waiting or failed, newest

    def as_json(self) -> dict[str, Any]:
        return {
            "queued": self.queued, "failed": self.failed, "done": self.done,
            "oldest_queued": self.oldest.isoformat() if self.oldest else None,
            "last_forwarded": self.last_forwarded.isoformat() if self.last_forwarded else None,
            "calls_waiting_for_a_portal_id": self.calls_ours, "items": self.recent,
        }  # fmt: skip


async def state(db: Database, limit: int = 20) -> QueueState:
    async with db.transaction(readonly=True) as s:
        counts = dict(
            (await s.execute(select(BridgeItem.state, func.count()).group_by(BridgeItem.state)))
            .tuples().all()
        )  # fmt: skip
        oldest = await s.scalar(
            select(func.min(BridgeItem.created_at)).where(BridgeItem.state == "queued")
        )
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
    return QueueState(
        queued=counts.get("queued", 0), failed=counts.get("failed", 0),
        done=counts.get("done", 0), oldest=oldest, last_forwarded=last,
        calls_ours=int(ours or 0), recent=recent,
    )  # fmt: skip


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
