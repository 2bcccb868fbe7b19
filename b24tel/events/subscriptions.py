"""``event.bind``, ``event.unbind``, ``event.get``, ``events`` (docs/reference/events.md,
"event.bind"): an application subscribes its handlers; the checks an event would fail later
(an unknown event, a scope the application lacks, a handler we may not call) fail here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors as protocol
from b24tel.config_values import parse_networks
from b24tel.db.upsert import insert_new
from b24tel.events import catalog
from b24tel.events import errors as event_errors
from b24tel.events.models import EventBinding
from b24tel.events.schemas import BindParams, EventsParams
from b24tel.identity import Caller
from b24tel.netguard import host_refusal
from b24tel.users import lookup
from b24tel.wire.php import loose_bool

MAX_HANDLER = 2000


@dataclass(frozen=True)
class Who:
    """The calling application and user."""

    app_id: int
    user_id: int
    scopes: frozenset[str]
    admin: bool


async def who(session: AsyncSession, caller: Caller) -> Who:
    """Event methods work only in an application's context, as in the reference."""
    if caller.kind != "oauth" or caller.app_id is None:
        raise protocol.wrong_auth_type()
    user = await lookup.user(session, caller.user_id)
    return Who(caller.app_id, caller.user_id, caller.scopes, bool(user and user.admin))


async def check_handler(url: str, allowlist_text: str) -> str:
    """An absolute http(s) URL whose host we may connect to (the delivery checks again, on
    the address it connects to)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise event_errors.wrong_handler(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_HANDLER:
        raise event_errors.wrong_handler("an absolute http(s) URL is needed")
    reason = await host_refusal(parts.hostname, parse_networks(allowlist_text))
    if reason:
        raise event_errors.wrong_handler(f"{reason}; allow it with event_handler_allowlist")
    return url


def _offline(event_type: str) -> bool:
    return event_type == "offline"


async def bind(
    session: AsyncSession, now: dt.datetime, w: Who, p: BindParams, allowlist: str
) -> bool:
    offline = _offline(p.event_type)
    if offline and not w.admin:
        raise event_errors.offline_needs_admin()
    handler = ""
    if not offline:
        if not p.handler:
            raise event_errors.argument_empty("HANDLER")
        handler = await check_handler(p.handler, allowlist)
    if not p.event:
        raise event_errors.argument_empty("EVENT")
    definition = catalog.find(p.event)
    # the reference only knows the events of the application's scopes
    if definition is None or definition.name not in catalog.available(w.scopes):
        raise event_errors.event_not_found()
    auth_type = p.auth_type or 0
    if auth_type and auth_type != w.user_id and not w.admin:
        raise event_errors.auth_type_needs_admin()
    connector = (p.auth_connector or "").strip()
    owner = f"app:{w.app_id}"
    values = dict(
        app_id=w.app_id, outgoing_id=None, event=definition.name, handler=handler,
        auth_type=auth_type, offline=offline, auth_connector=connector,
        options=p.options or None, user_id=w.user_id, created_at=now,
        binding_key=EventBinding.key_of(owner, definition.name, handler, auth_type, offline,
                                        connector),
    )  # fmt: skip
    # one row however many identical binds arrive at once, on any number of instances
    if not await insert_new(session, EventBinding, values, ["binding_key"]):
        raise event_errors.handler_exists()
    return True


async def unbind(session: AsyncSession, w: Who, p: BindParams) -> dict[str, int]:
    offline = _offline(p.event_type)
    if offline and not w.admin:
        raise event_errors.offline_needs_admin("unbinding")
    auth_type = p.auth_type or 0
    if auth_type and auth_type != w.user_id and not w.admin:
        raise event_errors.auth_type_needs_admin("unbinding")
    if not p.event:
        raise event_errors.argument_empty("EVENT")
    if not offline and not p.handler:
        raise event_errors.argument_empty("HANDLER")
    stmt = delete(EventBinding).where(
        EventBinding.app_id == w.app_id,
        EventBinding.event == p.event.strip().upper(),
        EventBinding.offline.is_(offline),
        EventBinding.auth_type == auth_type,
    )
    if not offline:
        stmt = stmt.where(EventBinding.handler == (p.handler or "").strip())
    if not w.admin:
        stmt = stmt.where(EventBinding.user_id == w.user_id)
    result = await session.execute(stmt)
    return {"count": int(getattr(result, "rowcount", 0) or 0)}


async def bindings_of(session: AsyncSession, w: Who) -> list[dict[str, Any]]:
    """event.get: the application's bindings; a user who is not an administrator sees the
    ones they made."""
    stmt = select(EventBinding).where(EventBinding.app_id == w.app_id).order_by(EventBinding.id)
    if not w.admin:
        stmt = stmt.where(EventBinding.user_id == w.user_id)
    out = []
    for b in (await session.execute(stmt)).scalars():
        row: dict[str, Any] = {
            "event": b.event,
            "handler": b.handler,
            "auth_type": str(b.auth_type),
            "offline": 1 if b.offline else 0,
        }
        if b.auth_connector:
            row["connector_id"] = b.auth_connector
        out.append(row)
    return out


def event_names(p: EventsParams, scopes: frozenset[str]) -> list[str]:
    if p.scope:
        return catalog.of_scope(p.scope)
    if loose_bool(p.full):
        return list(catalog.EVENTS)
    return catalog.available(scopes)
