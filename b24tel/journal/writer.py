"""Writing the journal off the request path (docs/integrators.md, "The request journal").

Requests only append to a bounded in-memory buffer; a background task writes what has
gathered every ``FLUSH_INTERVAL``, ``CHUNK`` entries per transaction, and then keeps the
table within its bounds (``journal_max_entries``, ``journal_max_age_days``). Each chunk is a
short unit of work that takes its turn with the requests' own (on SQLite they share one
writer and the event loop): a whole flush in one transaction held every request that came
meanwhile for its length — 20 to 40 ms at a few hundred requests a second, the p99 of
register at concurrency 8 (docs/benchmarks.md, "Request throughput, round three"). If the
buffer overflows (the database cannot keep up) the oldest entries are dropped and counted
— the journal is a debugging aid, never a reason to slow down or refuse a request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, text

from b24tel import errors
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.db.hot import Query, Tx, insert, scalar
from b24tel.journal.models import JournalRow
from b24tel.rest.journal import Entry

log = logging.getLogger("b24tel.journal")
FLUSH_INTERVAL = 0.25
CHUNK = 16
BUFFER = 20_000
_TABLE = cast(Table, JournalRow.__table__)
_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
PRUNE_LOCK = {"key": 0x62323474656C4A31}  # an advisory-lock key of our own ("b24telJ1")
# _text has made every value storable; lengths are the entry's own (b24tel.rest.journal)
_ADD = insert(JournalRow, _FIELDS, returning=None, checked=False)
_PRUNE_LOCK = Query(text("SELECT pg_try_advisory_xact_lock(:key)"))
_OLDER_THAN = Query(
    delete(JournalRow).where(JournalRow.at < bindparam("at", type_=_TABLE.c.at.type))
)
_NEWEST = Query(select(func.max(JournalRow.id)))
_UP_TO = Query(delete(JournalRow).where(JournalRow.id <= bindparam("id")))


def _text(value: Any) -> Any:
    """Text every database stores: no NUL, no lone surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\x00")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


class Journal:
    def __init__(
        self, db: Database, clock: Clock, *, enabled: bool, max_entries: int, max_age_days: float
    ) -> None:
        self.db, self.clock = db, clock
        self.enabled = enabled
        self.max_entries = max_entries
        self.max_age = dt.timedelta(days=max_age_days)
        self._buffer: collections.deque[Entry] = collections.deque(maxlen=BUFFER)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()  # ends the wait between flushes at once
        # one flush at a time: a flush returns once everything recorded before it is
        # written, also what a flush already under way had taken from the buffer
        self._flushing = asyncio.Lock()

    def record(self, entry: Entry) -> None:
        if not self.enabled:
            return
        if len(self._buffer) == BUFFER:
            self.dropped += 1
        self._buffer.append(entry)

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="b24tel-journal")

    async def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()  # what the last requests left

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), FLUSH_INTERVAL)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the request journal failed")

    async def flush(self) -> int:
        """Write what is buffered; prune to the bounds. Returns the rows written."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        if not self._buffer:
            return 0
        batch = [self._buffer.popleft() for _ in range(len(self._buffer))]
        for start in range(0, len(batch), CHUNK):
            if start:
                await asyncio.sleep(0)  # the requests that came meanwhile go first
            if not await self._write_chunk(batch[start : start + CHUNK]):
                self._keep(batch[start:])  # written once the database is back
                return start
        try:
            async with self.db.hot() as tx:
                await self._prune(tx)
        except errors.ApiError as exc:
            if not errors.database_away(exc):
                raise  # away: the next flush prunes
        return len(batch)

    async def _write_chunk(self, entries: list[Entry]) -> bool:
        """Write ``entries`` in one transaction; False when the database is away."""
        # field by field: dataclasses.asdict would deep-copy every entry's params and result
        # first, on the event loop, only for _text to copy them again
        rows = [{name: _text(getattr(e, name)) for name in _FIELDS} for e in entries]
        try:
            await self._write(rows)
        except errors.ApiError as exc:
            if not errors.database_away(exc):
                raise
            return False
        except Exception:
            # one bad row must not take the others with it
            for row in rows:
                try:
                    await self._write([row])
                except Exception as exc:
                    log.warning("a journal entry could not be written: %s", type(exc).__name__)
        return True

    def _keep(self, batch: list[Entry]) -> None:
        """Put back entries that could not be written, ahead of the newer ones; past the
        buffer's bound the oldest go (and are counted)."""
        kept = collections.deque(batch + list(self._buffer), maxlen=BUFFER)
        self.dropped += len(batch) + len(self._buffer) - len(kept)
        self._buffer = kept

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        # a hot unit (b24tel.db.hot): a plain executemany, without the ORM's per-row work on
        # the event loop that serves requests, nor a hand-off per statement on SQLite
        async with self.db.hot() as tx:
            await tx.run_many(_ADD, rows)

    async def _prune(self, tx: Tx) -> None:
        # instances sharing one PostgreSQL database: the one holding this lock prunes, the
        # others skip (their entries go at its next prune) instead of deleting the same
        # rows at the same time and waiting on each other's row locks
        if tx.dialect == "postgresql" and not await scalar(tx, _PRUNE_LOCK, **PRUNE_LOCK):
            return
        await tx.run(_OLDER_THAN, at=self.clock.now() - self.max_age)
        newest = await scalar(tx, _NEWEST)
        if newest is not None and newest > self.max_entries:
            await tx.run(_UP_TO, id=newest - self.max_entries)
