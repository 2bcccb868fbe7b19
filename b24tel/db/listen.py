"""PostgreSQL ``LISTEN`` for one process: one connection, any number of channels, and a
watcher that listens again when the connection is lost (a database restart, a failover).

``NOTIFY`` is sent inside the transaction of the change (``notify``), so it reaches every
instance at commit and never for a rollback. On SQLite there is one instance: nothing to
listen to, and ``notify`` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("b24tel.db")

RELISTEN_INTERVAL = 2.0
Handler = Callable[[str], None]  # called with the payload


async def notify(session: AsyncSession, channel: str, payload: str = "") -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": channel, "payload": payload},
        )


class Listener:
    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._failing = False  # said once per outage, not at every try
        self.enabled = make_url(url).get_backend_name() == "postgresql"
        self._handlers: dict[str, list[Handler]] = {}
        self._conn: Any = None
        self._watcher: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def on(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` for every notification on ``channel`` (before ``start``)."""
        self._handlers.setdefault(channel, []).append(handler)

    async def start(self) -> None:
        if not self.enabled or not self._handlers:
            return
        self._closing.clear()
        await self._listen()
        self._watcher = asyncio.create_task(self._watch(), name="b24tel-listen")

    async def stop(self) -> None:
        self._closing.set()
        if self._watcher is not None:
            await self._watcher
            self._watcher = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for handler in self._handlers.get(channel, ()):
            try:
                handler(payload)
            except Exception:  # one handler's defect must not silence the others
                log.exception("handling a notification on %s failed", channel)

    async def _listen(self) -> None:
        import asyncpg

        url = make_url(self.url).set(drivername="postgresql")
        try:
            self._conn = await asyncpg.connect(
                url.render_as_string(hide_password=False), timeout=self.connect_timeout
            )
            for channel in self._handlers:
                await self._conn.add_listener(channel, self._dispatch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if not self._failing:
                log.warning(
                    "cannot LISTEN (%s); trying again every %g s", type(exc).__name__,
                    RELISTEN_INTERVAL,
                )  # fmt: skip
            self._failing = True
            self._conn = None
            return
        if self._failing:
            log.info("listening again")
            self._failing = False
        # what was missed while not listening: each channel's handlers get an empty payload
        for channel in self._handlers:
            self._dispatch(None, 0, channel, "")

    async def _watch(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), RELISTEN_INTERVAL)
            if not self._closing.is_set() and (self._conn is None or self._conn.is_closed()):
                await self._listen()
