"""Who serves this data, and at which address.

A Bitrix24 portal has one address (its domain) that every install, event, link and printed
URL carries (docs/reference/events.md, "Payloads": ``auth[domain]``, ``client_endpoint``).
b24tel's is ``public_url`` when set; otherwise the address ``serve`` actually listens on,
which each running server writes here at start and keeps fresh with a heartbeat. Commands
run beside it read it from here, so what they print and queue names the same address, and
they see whether a running process will deliver the events they queue.

Liveness is about processes, not the portal's clock: it is measured on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from b24tel import __version__, errors
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.ops.models import Instance

log = logging.getLogger("b24tel.instances")

# a running instance refreshes its row this often; a row older than STALE is a dead process
HEARTBEAT = 2.0
STALE = dt.timedelta(seconds=10)
# rows of processes gone this long are pruned at the next start
FORGOTTEN = dt.timedelta(days=7)


def wall_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Running:
    url: str | None
    version: str
    host: str
    pid: int
    delivers: bool
    started_at: dt.datetime


class Presence:
    """This process's row: written at start, refreshed every HEARTBEAT, marked stopped at
    the end. A heartbeat that fails (the database away for a moment) is tried again."""

    def __init__(self, db: Database, *, url: str | None, delivers: bool) -> None:
        self.db = db
        self.url = url
        self.delivers = delivers
        self.id = secrets.token_hex(16)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        now = wall_now()
        async with self.db.transaction() as s:
            await s.execute(delete(Instance).where(Instance.seen_at < now - FORGOTTEN))
            s.add(
                Instance(
                    id=self.id, url=self.url, version=__version__, host=socket.gethostname(),
                    pid=os.getpid(), delivers=self.delivers, started_at=now, seen_at=now,
                )
            )  # fmt: skip
        self._task = asyncio.create_task(self._beat(), name="b24tel-presence")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                async with self.db.transaction() as s:
                    await s.execute(
                        update(Instance).where(Instance.id == self.id).values(seen_at=wall_now())
                    )
            except Exception as exc:  # the next beat tries again
                if not errors.database_away(exc):
                    log.warning("heartbeat not recorded: %s", type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # a stop never fails on the way out
            async with self.db.transaction() as s:
                await s.execute(
                    update(Instance).where(Instance.id == self.id).values(stopped_at=wall_now())
                )


async def live(db: Database) -> list[Running]:
    """The processes running on this data now, newest first."""
    async with db.transaction(readonly=True) as s:
        rows = (
            await s.execute(
                select(Instance)
                .where(Instance.stopped_at.is_(None), Instance.seen_at >= wall_now() - STALE)
                .order_by(Instance.started_at.desc())
            )
        ).scalars()
        return [Running(r.url, r.version, r.host, r.pid, r.delivers, r.started_at) for r in rows]


async def delivering(db: Database) -> bool:
    """Whether a running process delivers events queued on this data."""
    return any(r.delivers for r in await live(db))


async def portal_url(db: Database, settings: Settings) -> str:
    """The portal's address (``address``)."""
    return (await address(db, settings))[0]


async def address(db: Database, settings: Settings) -> tuple[str, str]:
    """The portal's address and where it comes from: ``public_url`` when set; else the
    address of the running server (the newest, if several); else the last one a server
    listened on; else what these settings would listen on."""
    if settings.public_url:
        return settings.base_url, "public_url"
    running = [r.url for r in await live(db) if r.url]
    if running:
        return running[0], "where the running server listens"
    async with db.transaction(readonly=True) as s:
        last = await s.scalar(
            select(Instance.url)
            .where(Instance.url.is_not(None))
            .order_by(Instance.started_at.desc())
            .limit(1)
        )
    if last:
        return last, "where a server last listened"
    return settings.base_url, "the settings; no server has run on this data yet"
