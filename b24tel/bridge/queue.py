"""Telephony writes the portal could not take, kept until it can (docs/bridge.md, "When the
portal fails").

When the portal cannot be reached, times out, answers 5xx or ``QUERY_LIMIT_EXCEEDED``, a
``register`` is answered here with a CALL_ID of the portal's format, and it and the
``finish``, ``attachRecord`` and ``attachTranscription`` of that call wait in
``bridge_queue``: forwarded in order per call once the portal answers again, the portal's
CALL_ID taking the place of ours. A later call of the connector with our CALL_ID works
either way: while the call still waits it joins the queue behind it; once forwarded it is
passed on with the portal's CALL_ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from b24tel.bridge import encoding
from b24tel.bridge.models import BridgeCall, BridgeItem, BridgeUpload
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Call, Statistic, Transcript

REGISTER = "telephony.externalcall.register"
# the writes that wait for the portal instead of failing the PBX
# a call's card: worth showing only while the call is fresh (setting bridge_card_max_age)
CARDS = frozenset({"telephony.externalcall.show", "telephony.externalcall.hide"})
QUEUED = frozenset(
    {REGISTER, "telephony.externalcall.finish", "telephony.externalcall.attachrecord",
     "telephony.call.attachtranscription", *CARDS}
)  # fmt: skip
# the portal's answers that mean "not now" rather than "never"
RETRY_CODES = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT"})
RETRY_MAX = 30.0
# the local copy's tables that name a call by its CALL_ID (b24tel.bridge.mirror): they take
# the portal's in place of ours when the register is forwarded
RENAMED = (Call, Statistic, RecordingFile, Transcript)
# seconds between tries at most, while the portal is away


def local_call_id(now: dt.datetime) -> str:
    """A CALL_ID of the portal's format: ``externalCall.`` + 32 hex digits + ``.`` + unix
    seconds (docs/reference/telephony.md, "register")."""
    digest = hashlib.md5(uuid.uuid4().bytes, usedforsecurity=False).hexdigest()
    return f"externalCall.{digest}.{int(now.timestamp())}"


class Queue:
    def __init__(self, db: Database, clock: Clock, files: Path) -> None:
        self.db, self.clock, self.files = db, clock, files
        self.wake = asyncio.Event()

    async def waiting(self, call_id: str) -> tuple[bool, str | None]:
        """Whether ``call_id`` is one of ours with writes still waiting, and the portal's
        CALL_ID for it once known."""
        async with self.db.transaction(readonly=True) as s:
            call = await s.get(BridgeCall, call_id)
            if call is None:
                return False, None
            pending = await s.scalar(
                select(func.count()).select_from(BridgeItem)
                .where(BridgeItem.call_id == call_id, BridgeItem.state == "queued")
            )  # fmt: skip
        return bool(pending), call.portal_id

    async def add(self, method: str, params: dict[str, Any]) -> tuple[str, int]:
        """Keep a write for the portal; the local CALL_ID it belongs to and its number."""
        now = self.clock.now()
        params = dict(params)
        path = None
        if "FILE_CONTENT" in params:
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / f"{uuid.uuid4().hex}.b64"
            await asyncio.to_thread(encoding.save_text, params.pop("FILE_CONTENT"), path)
        call_id = local_call_id(now) if method == REGISTER else str(params.get("CALL_ID", ""))
        try:
            async with self.db.transaction() as s:
                if method == REGISTER:
                    s.add(BridgeCall(local_id=call_id, portal_id=None, created_at=now))
                else:
                    await _ours_too(s, call_id, now)
                item = BridgeItem(
                    call_id=call_id, method=method, params=_plain(params),
                    file_path=str(path) if path else None, state="queued", attempts=0,
                    next_at=now, error=None, created_at=now, done_at=None,
                )  # fmt: skip
                s.add(item)
                await s.flush()
                number = item.id
        except BaseException:
            if path is not None:
                path.unlink(missing_ok=True)
            raise
        self.wake.set()
        return call_id, number

    async def passed(self, method: str, call_id: str) -> None:
        """A write the portal took at once: in the call's line as forwarded (the call page
        shows each write's fate)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            s.add(BridgeItem(
                call_id=call_id, method=method, params={}, file_path=None, state="done",
                attempts=1, next_at=now, error=None, created_at=now, done_at=now,
            ))  # fmt: skip

    async def next_items(self, limit: int) -> list[BridgeItem]:
        """The first waiting write of each call, oldest first — once the oldest waiting
        write's turn has come: the portal gets the calls in the order they were made."""
        now = self.clock.now()
        async with self.db.transaction(readonly=True) as s:
            head = await s.scalar(
                select(BridgeItem.next_at).where(BridgeItem.state == "queued")
                .order_by(BridgeItem.id).limit(1)
            )  # fmt: skip
            if head is None or head > now:
                return []
            firsts = (
                select(func.min(BridgeItem.id))
                .where(BridgeItem.state == "queued")
                .group_by(BridgeItem.call_id)
            )
            rows = await s.scalars(
                select(BridgeItem)
                .where(BridgeItem.id.in_(firsts), BridgeItem.next_at <= now)
                .order_by(BridgeItem.id)
                .limit(limit)
            )
            return list(rows)

    async def claim(self, item: BridgeItem, seconds: float) -> bool:
        """Take the item for ``seconds`` (its next try moves past them): of several
        instances on one database, exactly one forwards it; if that one stops midway, the
        claim runs out and another does."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            taken = await s.execute(
                update(BridgeItem)
                .where(BridgeItem.id == item.id, BridgeItem.state == "queued",
                       BridgeItem.next_at <= now)
                .values(next_at=now + dt.timedelta(seconds=seconds))
            )  # fmt: skip
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    async def portal_id(self, call_id: str) -> str | None:
        async with self.db.transaction(readonly=True) as s:
            call = await s.get(BridgeCall, call_id)
            return call.portal_id if call else None

    async def done(self, item: BridgeItem, portal_id: str | None) -> None:
        """Forwarded: marked done, and a register's CALL_ID of the portal kept (the local
        copy renamed to it), in one unit of work — a write is never forwarded twice by this
        server."""
        async with self.db.transaction() as s:
            await s.execute(
                update(BridgeItem).where(BridgeItem.id == item.id)
                .values(state="done", done_at=self.clock.now(), error=None)
            )  # fmt: skip
            if portal_id is not None:
                await s.execute(
                    update(BridgeCall).where(BridgeCall.local_id == item.call_id)
                    .values(portal_id=portal_id)
                )  # fmt: skip
                await _rename(s, item.call_id, portal_id)
        if item.file_path:
            Path(item.file_path).unlink(missing_ok=True)

    async def later(self, item: BridgeItem, error: str, wait: float | None = None) -> None:
        """Tried again after ``wait`` seconds, or with back-off (½, 1, 2 … 30 s) — and the
        whole queue with it: a portal that cannot take one write now takes none, and the
        writes stay in the order they came."""
        attempts = item.attempts + 1
        if wait is None:
            wait = min(RETRY_MAX, 2.0 ** min(attempts, 10) / 4)
        until = self.clock.now() + dt.timedelta(seconds=wait)
        async with self.db.transaction() as s:
            await s.execute(
                update(BridgeItem).where(BridgeItem.id == item.id)
                .values(attempts=attempts, error=error, next_at=until)
            )  # fmt: skip
            await s.execute(
                update(BridgeItem)
                .where(BridgeItem.state == "queued", BridgeItem.next_at < until)
                .values(next_at=until)
            )  # fmt: skip

    async def all_now(self) -> None:
        """The portal answers again: every waiting write's turn is now, back-off or not."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            # a write another instance is forwarding holds a claim far past any back-off:
            # it is left to that instance
            await s.execute(
                update(BridgeItem)
                .where(BridgeItem.state == "queued", BridgeItem.next_at > now,
                       BridgeItem.next_at <= now + dt.timedelta(seconds=RETRY_MAX))
                .values(next_at=now)
            )  # fmt: skip
        self.wake.set()

    async def dropped(self, item: BridgeItem, why: str) -> None:
        """Not forwarded on purpose (a card of a call long over): done, with the reason."""
        async with self.db.transaction() as s:
            await s.execute(
                update(BridgeItem).where(BridgeItem.id == item.id)
                .values(state="done", error=why, done_at=self.clock.now())
            )  # fmt: skip

    async def prune(self, days: int) -> int:
        """Forwarded writes older than ``days`` and upload links past their time go; the
        number of writes removed."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            gone = await s.execute(
                delete(BridgeItem).where(BridgeItem.state == "done",
                                         BridgeItem.done_at < now - dt.timedelta(days=days))
            )  # fmt: skip
            await s.execute(delete(BridgeUpload).where(BridgeUpload.expires_at < now))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]

    async def failed(self, item: BridgeItem, error: str) -> None:
        """The portal refused the write for good: it and what waits behind it for the same
        call are failed (shown by ``b24tel bridge status``), the queue goes on."""
        async with self.db.transaction() as s:
            await s.execute(
                update(BridgeItem)
                .where(BridgeItem.call_id == item.call_id, BridgeItem.state == "queued")
                .values(state="failed", error=error, done_at=self.clock.now())
            )  # fmt: skip


async def _ours_too(s: Any, call_id: str, now: dt.datetime) -> None:
    """A write for a call the portal registered (known to it, not to us) that could not be
    passed on: the call becomes ours to track, already mapped to itself."""
    if await s.get(BridgeCall, call_id) is None:
        s.add(BridgeCall(local_id=call_id, portal_id=call_id, created_at=now))


async def _rename(s: Any, local_id: str, portal_id: str) -> None:
    """The register was forwarded: the local copy takes the portal's CALL_ID."""
    if local_id == portal_id:
        return
    for table in RENAMED:
        await s.execute(update(table).where(table.call_id == local_id).values(call_id=portal_id))


def _plain(value: Any) -> Any:
    """JSON-ready parameters (a large value other than FILE_CONTENT read as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
