"""The delivery worker: sends what the outbox holds, retries what failed, never loses one
(docs/reference/events.md, "Delivery").

Due rows are claimed with a lease (b24tel.events.claims: fairly shared, in order per
entity, past open circuit breakers). A worker that dies gives its claims back when their
lease runs out, so a delivery is sent at least once and, in the normal case, exactly once;
the idempotency key lets a handler drop the rare second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors, masking
from b24tel.config import parse_networks
from b24tel.events import claims, fairness, payload
from b24tel.events.models import Delivery
from b24tel.events.policy import Policy
from b24tel.events.tokens import EventTokens
from b24tel.netguard import BlockedAddress, guarded_client
from b24tel.rest.faults import Decision
from b24tel.rest.journal import Entry, sanitize
from b24tel.services import Services

log = logging.getLogger("b24tel.events")
BATCH = 64
MAX_CODES = 40  # attempts remembered per delivery


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int  # HTTP status, 0 when none came back
    error: str | None
    latency_ms: int
    received: int = 0  # bytes of the handler's answer
    timed_out: bool = False  # no answer within event_timeout


class Worker:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.policy = Policy.of(services.settings)
        self.tokens = EventTokens(services)
        self.allowlist = parse_networks(services.settings.event_handler_allowlist)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.services.db.after_commit.append(self._after_commit)
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="b24tel-event-delivery")

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(ValueError):
            self.services.db.after_commit.remove(self._after_commit)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    def wake(self) -> None:
        self._wake.set()

    def _after_commit(self, info: dict[str, Any]) -> None:
        from b24tel.events.outbox import WROTE

        if info.get(WROTE):
            self._wake.set()

    async def _listen(self) -> None:
        """PostgreSQL: wake when any instance commits deliveries (LISTEN/NOTIFY)."""
        if self.services.db.is_sqlite:
            return
        import asyncpg
        from sqlalchemy.engine import make_url

        from b24tel.events.outbox import CHANNEL

        url = make_url(self.services.db.url).set(drivername="postgresql")
        try:
            self._listener = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._listener.add_listener(CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            # polling still delivers everything, a little later
            log.warning("cannot LISTEN for new events (%s); polling instead", exc)
            self._listener = None

    async def _run(self) -> None:
        """Keep up to ``event_concurrency`` deliveries in flight. Each turn is one
        transaction: record what finished, claim as many as there are free slots; then
        wait for a commit, a finished delivery or the poll interval. A slow handler holds
        one slot, not the others."""
        inflight: set[asyncio.Task[None]] = set()
        finished: list[tuple[Delivery, Outcome]] = []

        async def deliver(client: httpx.AsyncClient, d: Delivery) -> None:
            try:
                finished.append((d, await self.send(client, d)))
            except Exception as exc:  # the claim runs out and the delivery is retried
                if not errors.database_away(exc):
                    log.exception("delivering event %s failed", d.id)
            self._wake.set()

        async with self._client() as client:
            while not self._stopping or finished:
                self._wake.clear()
                done, finished[:] = list(finished), []
                free = 0 if self._stopping else self.policy.concurrency - len(inflight)
                try:
                    claimed = await self.turn(done, free)
                except Exception as exc:
                    if not errors.database_away(exc):
                        log.exception("event delivery turn failed")
                    claimed = []
                for d in claimed:
                    task = asyncio.create_task(deliver(client, d))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if self._stopping:
                    if inflight:  # what is being sent gets recorded
                        await asyncio.gather(*inflight, return_exceptions=True)
                    continue
                woken = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait(
                    {woken, *inflight},
                    timeout=self.policy.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()

    async def turn(self, done: list[tuple[Delivery, Outcome]], free: int) -> list[Delivery]:
        """One transaction: the outcomes of ``done``, and up to ``free`` new claims."""
        if not done and free <= 0:
            return []
        async with self.services.db.transaction() as s:
            now = self.services.clock.now()
            if done:
                rows = await s.execute(
                    select(Delivery).where(Delivery.id.in_([d.id for d, _ in done]))
                )
                current = {row.id: row for row in rows.scalars()}
                for d, outcome in done:
                    self._apply(current.get(d.id), outcome, now)
                    await fairness.record(
                        s, d.handler, outcome.status > 0, outcome.timed_out, outcome.error, now,
                        self.policy.breaker,
                    )  # fmt: skip
            return await self._claim(s, now, None, free) if free > 0 else []

    # --- one round -------------------------------------------------------------------------

    async def run_once(self, only: list[int] | None = None) -> int:
        """Claim what is due (or just ``only``), send it, record the outcomes. Returns how
        many were attempted."""
        claimed = await self.claim(only)
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.policy.concurrency)
        async with self._client() as client:

            async def one(d: Delivery) -> tuple[Delivery, Outcome]:
                async with limit:
                    return d, await self.send(client, d)

            done = await asyncio.gather(*(one(d) for d in claimed))
        await self.turn(list(done), 0)
        return len(claimed)

    async def claim(self, only: list[int] | None = None, limit: int = BATCH) -> list[Delivery]:
        async with self.services.db.transaction() as s:
            return await self._claim(s, self.services.clock.now(), only, limit)

    async def _claim(
        self, s: AsyncSession, now: dt.datetime, only: list[int] | None, limit: int
    ) -> list[Delivery]:
        return await claims.claim(
            s, now, self.policy, limit, only, locking=not self.services.db.is_sqlite
        )

    def _client(self) -> httpx.AsyncClient:
        return guarded_client(
            self.allowlist,
            "event handlers (see event_handler_allowlist)",
            verify_tls=self.services.settings.event_verify_tls,
            timeout=httpx.Timeout(self.policy.timeout),
        )

    async def send(self, client: httpx.AsyncClient, d: Delivery) -> Outcome:
        """One attempt, as a fault rule may hold it back or double it; journaled."""
        subscriber = f"app:{d.app_id}" if d.app_id is not None else f"outgoing:{d.outgoing_id}"
        data = d.data if isinstance(d.data, dict) else {}
        decision = await self.services.faults.decide("event", d.event, subscriber, data)
        if decision is not None and decision.effect in ("event_delay", "latency"):
            await asyncio.sleep(decision.latency_ms / 1000)
        body, headers = await self.request_of(d)
        started = time.perf_counter()
        outcome = await self._post(client, d, body, headers)
        if decision is not None and decision.effect == "event_duplicate":
            await self._post(client, d, body, headers)  # the same delivery, again
        self._journal(d, subscriber, outcome, len(body), started, decision)
        return outcome

    async def _post(
        self, client: httpx.AsyncClient, d: Delivery, body: bytes, headers: dict[str, str]
    ) -> Outcome:
        started = time.perf_counter()
        try:
            response = await client.post(d.handler, content=body, headers=headers)
        except httpx.ConnectError as exc:
            reason = str(exc.__cause__) if isinstance(exc.__cause__, BlockedAddress) else str(exc)
            return Outcome(False, 0, reason or "connection failed", _ms(started))
        except httpx.TimeoutException:
            late = f"no answer within {self.policy.timeout:g} s"
            return Outcome(False, 0, late, _ms(started), timed_out=True)
        except (httpx.HTTPError, ValueError) as exc:
            return Outcome(False, 0, str(exc) or type(exc).__name__, _ms(started))
        ok = 200 <= response.status_code < 300
        error = None if ok else f"handler answered HTTP {response.status_code}"
        return Outcome(ok, response.status_code, error, _ms(started), len(response.content))

    def _journal(
        self,
        d: Delivery,
        subscriber: str,
        outcome: Outcome,
        sent: int,
        started: float,
        decision: Decision | None,
    ) -> None:
        """An outgoing entry: the event as delivered (its data; never the auth block)."""
        journal = self.services.journal
        if not journal.enabled:
            return
        journal.record(
            Entry(
                at=self.services.clock.now(), request_id=d.idempotency_key, direction="out",
                kind="event", method=d.event, caller=subscriber, user_id=d.auth_user_id,
                http_method="POST", url=masking.shown_url(d.handler), encoding="form",
                params=sanitize(d.data), status=outcome.status, result=None,
                error="DELIVERY_FAILED" if not outcome.delivered else None,
                error_description=outcome.error, duration_ms=float(_ms(started)),
                bytes_in=outcome.received, bytes_out=sent, client="", user_agent="",
                fault=decision.label if decision else None,
            )
        )  # fmt: skip

    async def request_of(self, d: Delivery) -> tuple[bytes, dict[str, str]]:
        """The reference's form fields, and our headers."""
        fields: dict[str, Any] = {"event": d.event}
        if d.binding_id is not None:
            fields["event_handler_id"] = d.binding_id
        fields["data"] = d.data
        ts = str(int(d.created_at.timestamp()))
        fields["ts"] = ts
        fields["auth"] = await self.tokens.auth_block(d)
        body = payload.form_encode(fields)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "b24tel event delivery",
            payload.IDEMPOTENCY_HEADER: d.idempotency_key,
            payload.TIMESTAMP_HEADER: ts,
            payload.SIGNATURE_HEADER: payload.signature(d.application_token, ts, body),
        }
        return body, headers

    def _apply(self, row: Delivery | None, outcome: Outcome, now: dt.datetime) -> None:
        if row is None or row.status != "sending":
            return  # given back and taken by another worker meanwhile
        row.attempts += 1
        codes = [c for c in row.status_codes.split(",") if c] + [str(outcome.status)]
        row.status_codes = ",".join(codes[-MAX_CODES:])
        row.last_latency_ms, row.last_error, row.lease_until = (
            outcome.latency_ms, outcome.error, None,
        )  # fmt: skip
        if outcome.delivered:
            row.status, row.delivered_at = "delivered", now
            return
        at = self.policy.next_attempt(now, row.created_at, row.attempts)
        if at is None:
            row.status = "dead"
            log.warning(
                "event %s to %s given up after %d attempts: %s",
                row.event, masking.shown_url(row.handler), row.attempts, outcome.error,
            )  # fmt: skip
        else:
            row.status, row.next_attempt_at = "pending", at


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
