"""The server's maintenance jobs: recording retention every `maintenance_interval` seconds,
run by one instance of many (ops/leases); and, every minute on each instance, taking on
RECORD_URL fetches that an instance which died left pending (each claimed by one
instance: telephony/refetch)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from b24tel import errors
from b24tel.ops import leases, retention
from b24tel.services import Services
from b24tel.telephony import refetch

log = logging.getLogger("b24tel.maintenance")

LEASE = "maintenance"


class Maintenance:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.holder = secrets.token_hex(8)  # this instance
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def wanted(self) -> bool:
        return self.services.settings.recording_max_age_days > 0

    async def start(self) -> None:
        jobs: list[tuple[float, Callable[[], Awaitable[Any]]]] = [
            (refetch.SWEEP_INTERVAL, self.take_on_fetches)
        ]
        if self.wanted:
            jobs.append((self.services.settings.maintenance_interval, self.run_once))
        self._tasks = [
            asyncio.create_task(self._every(interval, job), name="b24tel-maintenance")
            for interval, job in jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(self, interval: float, job: Callable[[], Awaitable[Any]]) -> None:
        while True:
            try:
                await job()
            except Exception as exc:  # the next round tries again; every job is resumable
                if not errors.database_away(exc):
                    log.exception("maintenance failed")
            await asyncio.sleep(interval)

    async def take_on_fetches(self) -> list[str]:
        return await refetch.resume_abandoned(self.services)

    async def run_once(self) -> bool:
        """One retention round, if this instance holds the lease. True when it ran."""
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
