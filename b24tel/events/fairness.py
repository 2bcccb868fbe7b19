"""Who gets the next delivery slots, and which handlers get none for a while.

The cloud keeps a queue per application; one application's dead handlers must not starve
everyone's events. Three rules, applied when the worker claims (docs/integrators.md,
"Event delivery"):

- **fair shares**: each free slot goes to the subscriber (an application or an outgoing
  webhook) with the fewest deliveries in flight, then to its handler with the fewest, then
  to the oldest waiting delivery;
- **a cap per handler URL** (`event_handler_concurrency`), counted across instances;
- **a circuit breaker per handler URL**: after `event_breaker_failures` attempts in a row
  that got no answer in time, nothing goes to it until the cool-down ends, then one
  delivery at a time until one is answered. Its deliveries wait; none is lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import masking
from b24tel.db.upsert import insert_new
from b24tel.events.models import HandlerHealth

log = logging.getLogger("b24tel.events")
LONGEST_COOLDOWN = 1800.0


def handler_key(handler: str) -> str:
    return hashlib.sha256(handler.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Group:
    """Due deliveries of one subscriber to one handler URL."""

    subscriber: str  # app:<id> | out:<id>
    app_id: int | None
    outgoing_id: int | None
    handler: str
    oldest: int  # the lowest delivery id waiting


@dataclass(frozen=True)
class Breakers:
    """Handler URLs (by key) that get nothing now, and those that get one at a time."""

    open: frozenset[str] = frozenset()
    trial: frozenset[str] = frozenset()


def allocate(
    groups: Iterable[Group],
    by_subscriber: Counter[str],
    by_handler: Counter[str],
    free: int,
    cap: int,
    breakers: Breakers = Breakers(),
) -> Counter[Group]:
    """How many of ``free`` slots each group gets; the counters (deliveries in flight now)
    are updated as slots are given."""
    candidates = [g for g in groups if handler_key(g.handler) not in breakers.open]
    given: Counter[Group] = Counter()
    for _ in range(free):
        room = [
            g
            for g in candidates
            if by_handler[g.handler] < (1 if handler_key(g.handler) in breakers.trial else cap)
        ]
        if not room:
            break
        best = min(room, key=lambda g: (by_subscriber[g.subscriber], by_handler[g.handler],
                                        g.oldest))  # fmt: skip
        given[best] += 1
        by_subscriber[best.subscriber] += 1
        by_handler[best.handler] += 1
    return given


async def breakers(s: AsyncSession, now: dt.datetime, threshold: int) -> Breakers:
    rows = (
        await s.execute(select(HandlerHealth).where(HandlerHealth.timeouts >= threshold))
    ).scalars()
    opened: set[str] = set()
    trial: set[str] = set()
    for row in rows:
        (opened if row.open_until is not None and row.open_until > now else trial).add(
            row.handler_key
        )
    return Breakers(frozenset(opened), frozenset(trial))


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int
    cooldown: float


async def record(
    s: AsyncSession,
    handler: str,
    answered: bool,
    timed_out: bool,
    error: str | None,
    now: dt.datetime,
    policy: BreakerPolicy,
) -> None:
    """An attempt's outcome for the handler's breaker: an answer of any status closes it;
    no answer in time counts towards opening it. Other failures (refused, blocked) say
    nothing about slowness and leave it as it is."""
    if not answered and not timed_out:
        return
    key = handler_key(handler)
    if answered:
        row = await s.get(HandlerHealth, key)
        if row is not None and (row.timeouts or row.open_until):
            row.timeouts, row.trips, row.open_until = 0, 0, None
            row.updated_at = now
            log.info("event handler %s answers again", masking.shown_url(handler))
        return
    await insert_new(
        s, HandlerHealth,
        {"handler_key": key, "handler": handler, "timeouts": 0, "trips": 0, "updated_at": now},
        ["handler_key"],
    )  # fmt: skip
    row = await s.get(HandlerHealth, key, with_for_update=True, populate_existing=True)
    assert row is not None
    row.timeouts += 1
    row.last_error, row.updated_at = error, now
    if row.timeouts >= policy.failures and (row.open_until is None or row.open_until <= now):
        row.trips += 1
        seconds = min(LONGEST_COOLDOWN, policy.cooldown * 2 ** (row.trips - 1))
        row.open_until = now + dt.timedelta(seconds=seconds)
        log.warning(
            "event handler %s gets nothing for %g s: %d attempts in a row without an answer",
            masking.shown_url(handler), seconds, row.timeouts,
        )  # fmt: skip


async def states(s: AsyncSession) -> list[HandlerHealth]:
    """Every handler whose breaker is or was recently in play (the events page, `events
    log`)."""
    stmt = select(HandlerHealth).where(HandlerHealth.timeouts > 0).order_by(HandlerHealth.handler)
    return list((await s.execute(stmt)).scalars())


def describe(row: HandlerHealth, now: dt.datetime, threshold: int) -> str:
    """A breaker's state in words (the events page, `events log`)."""
    if row.open_until is not None and row.open_until > now:
        left = (row.open_until - now).total_seconds()
        return (f"breaker open for {left:.0f} s more: {row.timeouts} attempts in a row "
                f"without an answer")  # fmt: skip
    if row.timeouts >= threshold:
        return "breaker half open: one delivery at a time until one is answered"
    return f"{row.timeouts} attempt(s) in a row without an answer"
