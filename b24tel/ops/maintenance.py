"""The server's maintenance job: recording retention every `maintenance_interval`
seconds, run by one instance of many (ops/leases)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from b24tel.ops import leases, retention
from b24tel.services import Services

log = logging.getLogger("b24tel.maintenance")

LEASE = "maintenance"


class Maintenance:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.holder = secrets.token_hex(8)  # this instance
        self._task: asyncio.Task[None] | None = None

    @property
    def wanted(self) -> bool:
        return self.services.settings.recording_max_age_days > 0

    async def start(self) -> None:
        if self.wanted:
            self._task = asyncio.create_task(self._loop(), name="b24tel-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        interval = self.services.settings.maintenance_interval
        while True:
            try:
                await self.run_once()
            except Exception:  # the next round tries again; a run is resumable
                log.exception("maintenance failed")
            await asyncio.sleep(interval)

    async def run_once(self) -> bool:
        """One round, if this instance holds the lease. True when it ran."""
        services = self.services
        now = services.clock.now()
        ttl = services.settings.maintenance_interval
        if not await leases.claim(services.db, LEASE, self.holder, now, ttl):
            return False
        report = await retention.expire(
            services.db,
            services.recordings,
            max_age_days=services.settings.recording_max_age_days,
        )
        if report.checked:
            log.info("retention removed %d recording file(s)", report.checked)
        return True
