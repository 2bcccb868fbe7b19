"""Claiming due deliveries for sending (the delivery worker's side of the outbox).

Claims are short transactions: due rows are marked ``sending`` with a lease (PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so several instances never claim the same row; SQLite: one
writer at a time). Deliveries of one handler about one entity go out in order: a row waits
while an earlier one of its ``ordering_key`` is undelivered. Free slots are shared fairly
between subscribers and handlers, past open circuit breakers (b24tel.events.fairness).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from b24tel.events import fairness
from b24tel.events.models import Delivery
from b24tel.events.policy import Policy

OWNER = (Delivery.app_id, Delivery.outgoing_id, Delivery.handler)


async def claim(
    s: AsyncSession,
    now: dt.datetime,
    policy: Policy,
    limit: int,
    only: list[int] | None = None,
    *,
    locking: bool,
) -> list[Delivery]:
    """Up to ``limit`` due deliveries, shared fairly; ``only``: exactly these (a
    redelivery asked for by hand), breakers aside."""
    if only is not None:
        return _mark(await _due_rows(s, now, limit, Delivery.id.in_(only), locking), now, policy)
    groups = await _groups(s, now)
    if not groups:
        return []
    flying = (
        await s.execute(
            select(*OWNER, func.count())
            .where(Delivery.status == "sending", Delivery.lease_until >= now)
            .group_by(*OWNER)
        )
    ).all()
    by_subscriber: Counter[str] = Counter()
    by_handler: Counter[str] = Counter()
    for app_id, outgoing_id, handler, count in flying:
        by_subscriber[subscriber(app_id, outgoing_id)] += count
        by_handler[handler] += count
    breakers = await fairness.breakers(s, now, policy.breaker.failures)
    plan = fairness.allocate(
        groups, by_subscriber, by_handler, limit, policy.handler_concurrency, breakers
    )
    rows: list[Delivery] = []
    for group, count in sorted(plan.items(), key=lambda item: item[0].oldest):
        rows += await _due_rows(s, now, count, _of_group(group), locking)
    return _mark(rows, now, policy)


def subscriber(app_id: int | None, outgoing_id: int | None) -> str:
    return f"app:{app_id}" if app_id is not None else f"out:{outgoing_id}"


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.lease_until < now),
    )


async def _groups(s: AsyncSession, now: dt.datetime) -> list[fairness.Group]:
    found = await s.execute(select(*OWNER, func.min(Delivery.id)).where(_due(now)).group_by(*OWNER))
    return [
        fairness.Group(subscriber(app_id, out_id), app_id, out_id, handler, oldest)
        for app_id, out_id, handler, oldest in found.all()
    ]


def _of_group(group: fairness.Group) -> Any:
    owner = (
        Delivery.app_id == group.app_id
        if group.app_id is not None
        else and_(Delivery.app_id.is_(None), Delivery.outgoing_id == group.outgoing_id)
    )
    return and_(owner, Delivery.handler == group.handler)


async def _due_rows(
    s: AsyncSession, now: dt.datetime, limit: int, where: Any, locking: bool
) -> list[Delivery]:
    earlier = aliased(Delivery)
    blocked = exists().where(
        earlier.ordering_key == Delivery.ordering_key,
        earlier.id < Delivery.id,
        earlier.status.in_(("pending", "sending")),
    )
    stmt = select(Delivery).where(_due(now), ~blocked, where).order_by(Delivery.id).limit(limit)
    if locking:
        stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
    return list((await s.execute(stmt)).scalars())


def _mark(rows: list[Delivery], now: dt.datetime, policy: Policy) -> list[Delivery]:
    """Claim the rows: one per ordering key (the next of a key waits for this one)."""
    seen: set[str] = set()
    claimed = []
    for row in rows:
        if row.ordering_key in seen:
            continue
        seen.add(row.ordering_key)
        row.status, row.lease_until = "sending", now + policy.lease
        claimed.append(row)
    return claimed
