"""Raising an event: rows written in the caller's own transaction (docs/reference/events.md,
"Delivery").

A feature calls ``emit`` inside the unit of work that makes the change. The deliveries (one
per online handler) and the offline-queue rows commit or roll back with the change itself,
so no event is lost by a crash after the commit and none announces a change that never
happened. The delivery worker sends them after the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from b24tel.db.cache import cached
from b24tel.db.hot import Query, Tx, as_tx, insert, scalar
from b24tel.events import catalog
from b24tel.events.models import Delivery, EventBinding, OfflineEvent, OutgoingWebhook
from b24tel.events.payload import application_token
from b24tel.users.models import App

# session.info key: this unit of work wrote deliveries (the worker is woken after commit)
WROTE = "events.wrote"
CHANNEL = "b24tel_events"


def entity_key(kind: str, entity_id: object) -> str:
    return f"{kind}:{entity_id}"


def app_token(secret: str, app: App) -> str:
    return application_token(secret, "app", app.id, _generation(app.installed_at))


def _generation(installed_at: dt.datetime | None) -> str:
    """An installation's mark in its application token: a reinstall changes the token."""
    return str(int(installed_at.timestamp() * 1e6)) if installed_at else "0"


def outgoing_token(secret: str, hook: OutgoingWebhook) -> str:
    return application_token(secret, "outgoing", hook.id, "1")


async def enqueue(
    session: AsyncSession,
    now: dt.datetime,
    *,
    token: str,
    event: str,
    data: Any,
    handler: str,
    entity: str,
    binding: EventBinding | None = None,
    app_id: int | None = None,
    auth_user_id: int | None = None,
) -> Delivery:
    """One delivery to one handler."""
    delivery = Delivery(**_delivery(
        now, token=token, event=event, data=data, handler=handler, entity=entity,
        binding_id=binding.id if binding else None,
        app_id=binding.app_id if binding else app_id,
        outgoing_id=binding.outgoing_id if binding else None,
        auth_user_id=auth_user_id,
    ))  # fmt: skip
    session.add(delivery)
    await _wake_after_commit(await as_tx(session))
    return delivery


def _delivery(
    now: dt.datetime, *, token: str, event: str, data: Any, handler: str, entity: str,
    binding_id: int | None, app_id: int | None, outgoing_id: int | None,
    auth_user_id: int | None,
) -> dict[str, Any]:  # fmt: skip
    """A delivery row's values."""
    return {
        "idempotency_key": uuid.uuid4().hex,
        "event": event,
        "handler": handler,
        "binding_id": binding_id,
        "app_id": app_id,
        "outgoing_id": outgoing_id,
        "auth_user_id": auth_user_id,
        "application_token": token,
        "data": data,
        # one handler gets the events about one entity in the order they happened
        "ordering_key": f"{hashlib.sha1(handler.encode()).hexdigest()[:20]}|{entity}"[:255],
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "status_codes": "",
    }


_NEW_DELIVERY = insert(Delivery, list(_delivery(
    dt.datetime.now(dt.UTC), token="", event="", data=None, handler="", entity="",
    binding_id=None, app_id=None, outgoing_id=None, auth_user_id=None,
)))  # fmt: skip


async def emit(
    where: AsyncSession | Tx,
    now: dt.datetime,
    secret: str,
    event: str,
    data: dict[str, Any],
    *,
    entity: str,
    user_id: int | None,
    only_app: int | None = None,
    connector: str = "",
) -> list[int]:
    """Raise ``event`` for every binding of it: a delivery per online handler, a queue row
    per offline subscriber. ``only_app`` limits it to one application (the line's owner for
    ONEXTERNALCALL*); ``connector`` is the ``auth_connector`` of the request that made the
    change — offline subscribers with that key do not get their own change back.
    Returns the ids of the deliveries written."""
    definition = catalog.find(event)
    if definition is None:
        raise ValueError(f"unknown event {event}")
    tx = await as_tx(where)
    written: list[int] = []
    for bound in await _bindings(tx, event, only_app, definition.app_only):
        if bound.offline:
            if bound.app_live and not (connector and connector == bound.auth_connector):
                await _offline(tx, now, secret, bound, event, data, entity, user_id)
            continue
        if bound.app_live and bound.app_id is not None:
            token = application_token(secret, "app", bound.app_id, bound.app_generation)
            auth_user = bound.auth_type or user_id
        elif bound.hook_id is not None:
            token, auth_user = application_token(secret, "outgoing", bound.hook_id, "1"), None
        else:
            continue
        values = _delivery(
            now, token=token, event=event, data=data, handler=bound.handler, entity=entity,
            binding_id=bound.id, app_id=bound.app_id, outgoing_id=bound.outgoing_id,
            auth_user_id=auth_user,
        )  # fmt: skip
        written.append(int(await scalar(tx, _NEW_DELIVERY, **values)))
    if written:
        await _wake_after_commit(tx)
    return written


async def _offline(
    tx: Tx, now: dt.datetime, secret: str, bound: Bound, event: str, data: Any, entity: str,
    user_id: int | None,
) -> None:  # fmt: skip
    """The offline queue (rare beside a call's events) stays on the ORM."""
    session = await tx.session()
    binding = await session.get(EventBinding, bound.id)
    app = await session.get(App, bound.app_id)
    if binding is not None and app is not None:
        await _queue_offline(session, now, secret, binding, app, event, data, entity, user_id)
        await session.flush()


# the live bindings of every event, read once per transaction (register raises two events);
# a flush may change them (an app revoked, a binding added), so it forgets them
_MEMO = "b24tel.event_bindings"


@sa_event.listens_for(Session, "after_flush")
def _forget_bindings(session: Session, _context: Any) -> None:
    session.info.pop(_MEMO, None)


@dataclass(frozen=True)
class Bound:
    """A live subscriber's binding, as emit needs it."""

    id: int
    app_id: int | None
    outgoing_id: int | None
    event: str
    handler: str
    auth_type: int
    offline: bool
    auth_connector: str
    app_live: bool
    app_generation: str
    hook_id: int | None


def _live_bindings() -> Query:
    live_app = and_(App.id.is_not(None), App.revoked_at.is_(None), App.installed_at.is_not(None))
    live_hook = and_(OutgoingWebhook.id.is_not(None), OutgoingWebhook.revoked_at.is_(None))
    b = EventBinding
    return Query(
        select(
            b.id, b.app_id, b.outgoing_id, b.event, b.handler, b.auth_type, b.offline,
            b.auth_connector, App.id, App.revoked_at, App.installed_at, OutgoingWebhook.id,
        )
        .outerjoin(App, App.id == EventBinding.app_id)
        .outerjoin(OutgoingWebhook, OutgoingWebhook.id == EventBinding.outgoing_id)
        .where(or_(live_app, live_hook))
        .order_by(EventBinding.id)
    )  # fmt: skip


_LIVE_BINDINGS = _live_bindings()


def _bound(row: Sequence[Any]) -> Bound:
    id_, app_id, outgoing_id, event, handler, auth_type, offline, connector = row[:8]
    app, app_revoked, installed_at, hook = row[8:]
    live = app is not None and app_revoked is None and installed_at is not None
    return Bound(
        id_, app_id, outgoing_id, event, handler, auth_type or 0, bool(offline), connector or "",
        live, _generation(installed_at), hook,
    )  # fmt: skip


async def _bindings(tx: Tx, event: str, only_app: int | None, app_only: bool) -> list[Bound]:
    """Bindings of live subscribers: installed, unrevoked applications and unrevoked
    outgoing webhooks."""
    rows = tx.info.get(_MEMO)
    if rows is None:

        async def load() -> tuple[Bound, ...]:
            return tuple(_bound(r) for r in await tx.rows(_LIVE_BINDINGS))

        rows = tx.info[_MEMO] = await cached(tx, "bindings", "live", load)
    out = []
    for bound in rows:
        if bound.event != event:
            continue
        if only_app is not None:
            wanted = bound.app_live and bound.app_id == only_app
        elif app_only:
            wanted = bound.app_live
        else:
            wanted = bound.app_live or bound.hook_id is not None
        if wanted:
            out.append(bound)
    return out


async def _queue_offline(
    session: AsyncSession,
    now: dt.datetime,
    secret: str,
    binding: EventBinding,
    app: App,
    event: str,
    data: Any,
    entity: str,
    user_id: int | None,
) -> None:
    """The offline queue keeps one row per object: the latest change replaces a row that no
    process has reserved yet."""
    message_id = hashlib.md5(entity.encode()).hexdigest()
    row = (
        await session.execute(
            select(OfflineEvent).where(
                OfflineEvent.app_id == app.id,
                OfflineEvent.auth_connector == binding.auth_connector,
                OfflineEvent.message_id == message_id,
                OfflineEvent.process_id == "",
            )
        )
    ).scalar_one_or_none()
    additional = {"user_id": user_id} if user_id else None
    if row is None:
        session.add(
            OfflineEvent(
                app_id=app.id, auth_connector=binding.auth_connector,
                event_name=event, event_data=data, event_additional=additional,
                message_id=message_id, timestamp_x=now, process_id="", error=False,
            )
        )  # fmt: skip
    else:
        row.event_name, row.event_data, row.event_additional = event, data, additional
        row.timestamp_x, row.error = now, False
    await _notify_offline(session, now, secret, app, user_id)


async def _notify_offline(
    session: AsyncSession, now: dt.datetime, secret: str, app: App, user_id: int | None
) -> None:
    """ONOFFLINEEVENT to the application's online handlers, at most once per their
    ``minTimeout`` seconds (default 1)."""
    bindings = (
        await session.execute(
            select(EventBinding).where(
                EventBinding.app_id == app.id,
                EventBinding.event == "ONOFFLINEEVENT",
                EventBinding.offline.is_(False),
            )
        )
    ).scalars()
    for binding in bindings:
        timeout = _min_timeout(binding.options)
        recent = (
            await session.execute(
                select(Delivery.id)
                .where(
                    Delivery.binding_id == binding.id,
                    Delivery.created_at > now - dt.timedelta(seconds=timeout),
                )
                .limit(1)
            )
        ).first()
        if recent is None or timeout == 0:
            await enqueue(
                session, now, token=app_token(secret, app), event="ONOFFLINEEVENT", data=[],
                handler=binding.handler, entity="queue", binding=binding,
                auth_user_id=binding.auth_type or user_id,
            )  # fmt: skip


def _min_timeout(options: dict[str, Any] | None) -> float:
    raw = (options or {}).get("minTimeout", (options or {}).get("MINTIMEOUT", 1))
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return 1.0


async def wake_workers(session: AsyncSession) -> None:
    """After this commit, deliveries made due again (a redelivery) go out at once."""
    await _wake_after_commit(await as_tx(session))


_WAKE = Query(text(f"SELECT pg_notify('{CHANNEL}', '')"))


async def _wake_after_commit(tx: Tx) -> None:
    """Mark the unit of work so this process's worker wakes after the commit; on
    PostgreSQL also tell the other instances (NOTIFY is delivered at commit, and not at
    all on rollback)."""
    if tx.info.get(WROTE):
        return
    tx.info[WROTE] = True
    if tx.dialect == "postgresql":
        await tx.rows(_WAKE)
