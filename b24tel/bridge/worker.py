"""Forwarding the waiting writes to the portal once it answers again (``b24tel.bridge.queue``):
the first waiting write of each call, oldest call first, the portal's CALL_ID in place of
ours; a "not now" (unreachable, 5xx, a limit) tries again later with back-off, a refusal
fails the call's remaining writes (shown by the journal and the queue's rows)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from b24tel import errors
from b24tel.bridge.encoding import FileText
from b24tel.bridge.models import BridgeItem
from b24tel.bridge.queue import CARDS, REGISTER, RETRY_CODES, Queue
from b24tel.bridge.service import LOCAL_FILE, Bridge, retryable
from b24tel.bridge.upstream import UpstreamUnreachable
from b24tel.rest.journal import sanitize

log = logging.getLogger("b24tel.bridge")

IDLE = 0.5  # seconds between looks at the queue when nothing woke the worker
BATCH = 16
PRUNE_EVERY = 3600.0  # seconds between prunings of the forwarded writes' history
CLAIM = 120.0  # seconds an instance holds an item it forwards (far above upstream_timeout)


class Forwarder:
    def __init__(self, bridge: Bridge, card_max_age: float, history_days: int = 30) -> None:
        self.bridge = bridge
        self.card_max_age = card_max_age
        self.history_days = history_days
        self._pruned = 0.0  # monotonic time of the last pruning
        self.queue: Queue = bridge.queue
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failing = False  # the last forward met a portal that was away

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="b24tel-bridge")

    async def stop(self) -> None:
        self._stopping = True
        self.queue.wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self.queue.wake.clear()
            try:
                if time.monotonic() - self._pruned > PRUNE_EVERY:
                    self._pruned = time.monotonic()
                    await self.queue.prune(self.history_days)
                items = await self.queue.next_items(BATCH)
                for item in items:
                    if self._stopping:
                        return
                    await self.forward(item)
            except Exception as exc:  # the next round tries again; nothing is lost
                if not errors.database_away(exc):
                    log.exception("forwarding to the portal failed")
                items = []
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.queue.wake.wait(), IDLE)

    async def forward(self, item: BridgeItem) -> None:
        if not await self.queue.claim(item, CLAIM):
            return  # another instance has it
        age = (self.queue.clock.now() - item.created_at).total_seconds()
        if item.method in CARDS and age > self.card_max_age:
            await self.queue.dropped(item, f"a card {age:.0f} s old is no use: not forwarded")
            return
        params: dict[str, Any] = dict(item.params)
        if item.method != REGISTER:
            portal_id = await self.queue.portal_id(item.call_id)
            if portal_id is None:
                await self.queue.failed(item, "the call's register was not taken by the portal")
                return
            params["CALL_ID"] = portal_id
        if item.file_path:
            params["FILE_CONTENT"] = FileText(Path(item.file_path))
        local_file = params.pop(LOCAL_FILE, None)
        if local_file is not None and self.bridge.links is not None:  # a link made afresh
            params["RECORD_URL"] = self.bridge.links.url(int(local_file))
        request_id = f"bridge-{item.id}"
        await self.bridge.pace.turn()
        try:
            answer = await self.bridge.upstream.call(item.method, params)
        except UpstreamUnreachable as exc:
            self.bridge.record(item.method, params, request_id, None, None,
                               "UPSTREAM_UNAVAILABLE", str(exc))  # fmt: skip
            self._failing = True
            await self.queue.later(item, str(exc))
            return
        try:
            body = json.loads(answer.body)
        except ValueError:
            body = None
        code = str(body["error"]) if isinstance(body, dict) and "error" in body else None
        text = str(body.get("error_description", "")) if code and isinstance(body, dict) else None
        result = body.get("result") if isinstance(body, dict) else None
        self.bridge.record(item.method, params, request_id, answer, sanitize(result), code, text)
        why = f"HTTP {answer.status} {code or ''}".strip()
        if code in RETRY_CODES:  # there, but at its limit: again at the next turn
            await self.queue.later(item, why, wait=1 / self.bridge.pace.rate)
            return
        if retryable(answer.status, code) or body is None:
            self._failing = True
            await self.queue.later(item, why)
            return
        if self._failing:  # it is back: what waited on back-off goes now
            self._failing = False
            await self.queue.all_now()
        if code is not None or answer.status != 200:
            await self.queue.failed(item, f"{code}: {text}")
        else:
            portal_id = None
            if item.method == REGISTER and isinstance(result, dict):
                portal_id = str(result.get("CALL_ID") or "") or None
            await self.queue.done(item, portal_id)
