"""What a command says about the events it queued.

Commands never deliver events themselves: the running server does, so retries, signatures,
fairness and the request journal apply to every event alike. A command waits a moment for
the server's first attempt and reports it, or says that no server will deliver it.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from b24tel import masking
from b24tel.events.models import Delivery
from b24tel.ops import instances
from b24tel.services import Services

# how long a command waits for the running server's first attempt, unless --wait says
WAIT = 5.0
NO_SERVER = (
    "no server delivers events on this data: {what} stays queued until `b24tel serve` runs "
    "(or send it now with `b24tel events deliver --once`)"
)


async def report_deliveries(services: Services, ids: list[int], wait: float) -> list[str]:
    """Commands never deliver events themselves: what they queued, the running server
    delivers (so retries, signatures, fairness and the request journal apply). Wait up to
    ``wait`` seconds for its first attempt at each and say how it went."""
    if not ids:
        return []
    rows = await _deliveries(services, ids)
    if not await instances.delivering(services.db):
        what = rows[0].event if len(rows) == 1 else f"{len(rows)} events"
        return [NO_SERVER.format(what=what)]
    before = {d.id: d.attempts for d in rows}
    deadline = time.monotonic() + wait
    while not all(_settled(d, before[d.id]) for d in rows) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rows = await _deliveries(services, ids)
    return [_outcome(d, before[d.id], wait) for d in rows]


async def _deliveries(services: Services, ids: list[int]) -> list[Delivery]:
    async with services.db.transaction(readonly=True) as s:
        found = (await s.execute(select(Delivery).where(Delivery.id.in_(ids)))).scalars()
        return sorted(found, key=lambda d: d.id)


def _settled(d: Delivery, attempts_before: int) -> bool:
    return d.status in ("delivered", "dead") or (
        d.status == "pending" and d.attempts > attempts_before
    )


def _outcome(d: Delivery, attempts_before: int, wait: float) -> str:
    where = masking.shown_url(d.handler)
    if d.status == "delivered":
        return f"{d.event} delivered to {where} (HTTP {d.status_codes.rsplit(',', 1)[-1]})"
    if d.status == "dead":
        return f"{d.event} to {where} not delivered ({d.last_error}); given up"
    if d.attempts > attempts_before:
        return f"{d.event} to {where} not delivered yet ({d.last_error}); it will be retried"
    return (
        f"{d.event} to {where} is queued: the running server has not sent it within "
        f"{wait:g} s (see `b24tel events log`)"
    )
