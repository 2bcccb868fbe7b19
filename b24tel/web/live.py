"""The live call card: ``/live`` is a Server-Sent Events stream per signed-in browser.

A card change (``telephony.externalCall.show``/``hide``, ``register`` with ``SHOW=1``,
``finish``) is written by ``telephony.repository.set_card``, which marks its unit of work
and, on PostgreSQL, sends ``NOTIFY`` inside it. This hub hears of it after the commit — from
this process's commit hook on SQLite (one instance), from ``LISTEN`` on PostgreSQL (every
instance, this one included) — and hands it to the streams of that user, which load the
card and send it. Nothing is sent for a change that rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from starlette.responses import Response, StreamingResponse

from b24tel import errors
from b24tel.db.engine import Database
from b24tel.db.listen import Listener
from b24tel.errors import ApiError
from b24tel.services import EndpointCtx
from b24tel.telephony import repository as calls
from b24tel.telephony.models import Call, CallCard, ExternalLine
from b24tel.telephony.outcomes import DIRECTIONS
from b24tel.telephony.repository import CARD_CHANNEL, CARDS
from b24tel.web import repository as repo
from b24tel.web.links import entity_link
from b24tel.web.render import HEADERS, Viewer, page

HEARTBEAT = 15.0  # a comment line keeps proxies from closing an idle stream
STREAM_LIFETIME = 300.0  # then the browser reconnects (EventSource does by itself)


T = TypeVar("T")

# put in every open stream's queue: read the shown cards afresh (a NOTIFY may be lost)
RESYNC: dict[str, Any] = {"resync": True}


class CardHub:
    # every hub of this process, so a stop signal can end their streams (cli/serve)
    _open: ClassVar[weakref.WeakSet[CardHub]] = weakref.WeakSet()

    @classmethod
    def close_all(cls) -> None:
        for hub in list(cls._open):
            hub.close()

    def __init__(self, db: Database, listener: Listener) -> None:
        CardHub._open.add(self)
        self.db = db
        self._queues: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self.closing = asyncio.Event()
        if db.is_sqlite:
            db.after_commit.append(self._after_commit)
        else:
            listener.on(CARD_CHANNEL, self._notified)

    def close(self) -> None:
        """Shutdown begins: end every stream, so the server need not wait for them."""
        self.closing.set()

    def _after_commit(self, info: dict[str, Any]) -> None:
        for change in info.get(CARDS, ()):
            self.publish(change)

    def _notified(self, payload: str) -> None:
        if not payload:
            # listening again after a lost connection: what changed meanwhile is unknown,
            # so every open page reads its shown cards afresh
            for queues in self._queues.values():
                for queue in queues:
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(RESYNC)
            return
        try:
            change = json.loads(payload)
        except ValueError:
            return
        if isinstance(change, dict):
            self.publish(change)

    def publish(self, change: dict[str, Any]) -> None:
        for queue in self._queues.get(int(change.get("user_id") or 0), ()):
            queue.put_nowait(change)

    @contextlib.contextmanager
    def subscribe(self, user_id: int) -> Any:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._queues.setdefault(user_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._queues[user_id].discard(queue)
            if not self._queues[user_id]:
                del self._queues[user_id]


async def card(db: Database, call_id: str, user_id: int) -> dict[str, Any] | None:
    """What the card shows: number, direction, line, the CRM entity with its name and
    link; None when the card is not shown (hidden, or the call finished)."""
    async with db.transaction(readonly=True) as s:
        row = (
            await s.execute(
                select(Call, CallCard.state)
                .join(CallCard, CallCard.call_id == Call.call_id)
                .where(Call.call_id == call_id, CallCard.user_id == user_id)
            )
        ).first()
        if row is None or row[1] != "shown" or row[0].finished_at is not None:
            return None
        call: Call = row[0]
        names = await repo.entity_names(s, [(call.crm_entity_type, call.crm_entity_id)])
        line = await s.get(ExternalLine, call.external_line_id) if call.external_line_id else None
    # live cards are of calls of this server (a bridge keeps no cards): our CRM pages
    entity = entity_link("", call.crm_entity_type, call.crm_entity_id, names)
    return {
        "call_id": call.call_id,
        "number": call.caller_id,
        "direction": DIRECTIONS.get(call.incoming, call.incoming),
        # an application's calls without a line carry "REST_APP:<id>": not a line to show
        "line": (line.name or line.number) if line else line_number(call.portal_number),
        "entity": entity,
    }


def line_number(number: str | None) -> str:
    return "" if not number or number.startswith("REST_APP:") else number


async def shown_now(db: Database, user_id: int) -> list[str]:
    """Cards already open when the page connects."""
    async with db.transaction(readonly=True) as s:
        stmt = (
            select(CallCard.call_id)
            .join(Call, Call.call_id == CallCard.call_id)
            .where(
                CallCard.user_id == user_id, CallCard.state == "shown", Call.finished_at.is_(None)
            )
            .order_by(CallCard.changed_at.desc())
            .limit(20)
        )
        return list((await s.execute(stmt)).scalars())


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(ctx: EndpointCtx) -> StreamingResponse:
    hub: CardHub = ctx.request.app.state.live
    assert ctx.caller is not None
    user_id, db = ctx.caller.user_id, ctx.services.db

    async def events() -> AsyncIterator[bytes]:
        with hub.subscribe(user_id) as queue:
            yield b"retry: 1000\n\n"
            # the database may go away while the page opens, as at any later read
            for shown_card in await _shown_while_away(db, user_id):
                yield _event("card", shown_card)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STREAM_LIFETIME
            while not hub.closing.is_set() and loop.time() < deadline:
                change = await _next(queue, hub.closing, HEARTBEAT)
                if change is None:
                    yield b": keep-alive\n\n"
                    continue
                if change is RESYNC:
                    for shown_card in await _shown_while_away(db, user_id):
                        yield _event("card", shown_card)
                    continue
                call_id = str(change.get("call_id", ""))
                read, found = await _while_away(functools.partial(card, db, call_id, user_id))
                if read:  # else the database is still away: the next change says it again
                    yield _event("card", found) if found else _event("gone", {"call_id": call_id})

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def _shown_cards(db: Database, user_id: int) -> list[dict[str, Any]]:
    found = [await card(db, call_id, user_id) for call_id in await shown_now(db, user_id)]
    return [f for f in found if f is not None]


async def _shown_while_away(db: Database, user_id: int) -> list[dict[str, Any]]:
    """The user's shown cards; none while the database is still away (the next change or
    resync reads them again)."""
    read, shown = await _while_away(lambda: _shown_cards(db, user_id))
    return shown if read and shown else []


# a database that went away for a moment (its connections broke, a restart): tries of a read,
# with a growing pause between them
READ_TRIES = 5


async def _while_away(read: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
    """``(True, value)`` of the read, tried again while the database is away for a moment
    (the pool then connects afresh); ``(False, None)`` if it is still away after a few
    seconds. A page's stream outlives a database restart either way."""
    for attempt in range(READ_TRIES):
        try:
            return True, await read()
        except ApiError as exc:
            if not errors.database_away(exc):
                raise
        except DBAPIError as exc:  # a read outside a unit of work
            if not exc.connection_invalidated:
                raise
        await asyncio.sleep(0.2 * (attempt + 1))
    return False, None


async def _next(
    queue: asyncio.Queue[dict[str, Any]], closing: asyncio.Event, timeout: float
) -> dict[str, Any] | None:
    getter = asyncio.ensure_future(queue.get())
    closer = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({getter, closer}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (getter, closer):
            if not task.done():
                task.cancel()
    # an item taken just as the wait ended is still returned, never dropped
    return getter.result() if getter.done() and not getter.cancelled() else None


# --- a call in progress ---------------------------------------------------------------------


async def in_progress(ctx: EndpointCtx, me: Viewer, call_id: str) -> Response | None:
    """The page of a registered call that has not finished (the card's link leads here):
    number, direction, line, the CRM match, and who it is shown to. None when there is no
    such call; 403 for someone who neither took it nor sees its card."""
    async with ctx.services.db.transaction(readonly=True) as s:
        call = (await s.execute(select(Call).where(Call.call_id == call_id))).scalar()
        if call is None or call.finished_at is not None:
            return None
        shown = await calls.cards(s, call_id)
        viewers = [c.user_id for c in shown if c.state == "shown"]
        if not me.admin and me.user_id not in (call.user_id, *viewers):
            raise errors.access_denied("This call belongs to another user")
        names = await repo.user_names(s, [call.user_id, *viewers])
        line = await s.get(ExternalLine, call.external_line_id) if call.external_line_id else None
        entities = await repo.entity_names(s, [(call.crm_entity_type, call.crm_entity_id)])
    return page(
        ctx,
        me,
        "call_live.html",
        call=call,
        direction=DIRECTIONS.get(call.incoming, call.incoming),
        line=(line.name or line.number) if line else line_number(call.portal_number),
        user=names.get(call.user_id, f"User {call.user_id}"),
        shown_to=[names.get(uid, f"User {uid}") for uid in viewers],
        entity=entity_link("", call.crm_entity_type, call.crm_entity_id, entities),
    )  # fmt: skip


async def dismiss(ctx: EndpointCtx) -> Response:
    """The card's ×: the card leaves this user's pages (every tab, every instance) until a
    connector shows it again."""
    assert ctx.caller is not None
    call_id = str(ctx.request.path_params["call_id"])[:255]
    user_id = ctx.caller.user_id
    async with ctx.services.db.transaction() as s:
        mine = [c for c in await calls.cards(s, call_id) if c.user_id == user_id]
        if mine and mine[0].state == "shown":
            await calls.set_card(s, call_id, [user_id], "dismissed", ctx.services.clock.now())
    return Response(status_code=204, headers=HEADERS)
