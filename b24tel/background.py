"""Work that runs after the response (finish's deprecated RECORD_URL download)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from b24tel import errors

log = logging.getLogger("b24tel.background")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(work: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await work
        except Exception as exc:
            if not errors.database_away(exc):
                log.exception("background task %s failed", name)

    async def join(self, timeout: float | None = None) -> None:
        """Wait for what is running (at shutdown, and in tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
