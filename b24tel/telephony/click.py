"""Calls the portal starts itself (docs/reference/events.md, "ONEXTERNALCALLSTART"):
click-to-call registers an outgoing call on the application that owns the line and tells
that application to dial; a callback request only tells it to call back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.db.hot import as_tx
from b24tel.events.models import EventBinding
from b24tel.identity import Caller
from b24tel.rest.params import ParseContext
from b24tel.services import Services
from b24tel.telephony import register as registration
from b24tel.telephony.models import WEBHOOK_OWNER, ExternalLine
from b24tel.telephony.rules import Env
from b24tel.telephony.schemas import RegisterParams
from b24tel.users import lookup
from b24tel.users.models import App

# the pseudo-line of an application that has no line of its own
DEFAULT_LINE = ""


class ClickError(ValueError):
    """Why the call cannot be started (one line, for the command line)."""


@dataclass(frozen=True)
class Target:
    app: App
    line: ExternalLine | None


@dataclass(frozen=True)
class Started:
    call_id: str
    app_id: int
    deliveries: list[int]
    result: dict[str, Any]


async def _target(
    session: AsyncSession, event: str, app_id: int | None, line_number: str | None
) -> Target:
    """The application that handles the call: the owner of ``line_number``, the one given,
    or the only installed one that bound ``event``."""
    line = None
    if line_number:
        stmt = select(ExternalLine).where(
            ExternalLine.number == line_number, ExternalLine.owner != WEBHOOK_OWNER
        )
        if app_id is not None:
            stmt = stmt.where(ExternalLine.owner == app_id)
        lines = list((await session.execute(stmt)).scalars())
        if not lines:
            raise ClickError(f"no application has a line {line_number!r}")
        if len(lines) > 1:
            raise ClickError(
                f"several applications have a line {line_number!r}: name one with --app"
            )
        line, app_id = lines[0], lines[0].owner
    if app_id is None:
        bound = (
            await session.execute(
                select(App.id)
                .join(EventBinding, EventBinding.app_id == App.id)
                .where(EventBinding.event == event, App.installed_at.is_not(None),
                       App.revoked_at.is_(None))
                .distinct()
            )
        ).scalars().all()  # fmt: skip
        if len(bound) != 1:
            which = "no installed application has" if not bound else "several applications have"
            raise ClickError(f"{which} bound {event}: name one with --app or --line")
        app_id = bound[0]
    app = await session.get(App, app_id)
    if app is None or app.revoked_at is not None or app.installed_at is None:
        raise ClickError(f"application {app_id} is not installed")
    return Target(app, line)


async def start_call(
    services: Services,
    *,
    user_id: int,
    number: str,
    app_id: int | None = None,
    line_number: str | None = None,
    entity_type: str | None = None,
    entity_id: int | None = None,
    call_list_id: int = 0,
    mobile: bool = False,
    show: bool = False,
) -> Started:
    """Click-to-call: register the call as the line's application would (with ``show``,
    its card opens for the user, as the web interface does), then raise
    ONEXTERNALCALLSTART for that application only, in the same transaction."""
    now, settings = services.clock.now(), services.settings
    async with services.db.transaction() as s:
        target = await _target(s, "ONEXTERNALCALLSTART", app_id, line_number)
        user = await lookup.active_user(s, user_id)
        if user is None:
            raise ClickError(f"user {user_id} does not exist or is not active")
        line = target.line
        raw: dict[str, Any] = {
            "USER_ID": user_id, "PHONE_NUMBER": number, "TYPE": 1, "SHOW": 1 if show else 0,
            "CRM_CREATE": 1 if (line is None or line.crm_auto_create == "Y") else 0,
            "LINE_NUMBER": line.number if line else "",
        }  # fmt: skip
        if entity_type and entity_id:
            raw["CRM_ENTITY_TYPE"], raw["CRM_ENTITY_ID"] = entity_type.upper(), entity_id
        params = RegisterParams.model_validate(
            raw, context=ParseContext(services.tz, now).mapping()
        )
        caller = Caller(user_id, "oauth", frozenset(target.app.scopes.split(",")),
                        app_id=target.app.id)  # fmt: skip
        env = Env(caller, now, services.tz, settings.phone_region, services)
        result = await registration.register(await as_tx(s), env, params)
        data = {
            "PHONE_NUMBER": params.phone_number,
            "PHONE_NUMBER_INTERNATIONAL": _international(params.phone_number, env.region),
            "EXTENSION": user.uf_phone_inner or "",
            "USER_ID": user_id,
            "CALL_LIST_ID": call_list_id,
            "LINE_NUMBER": line.number if line else DEFAULT_LINE,
            "IS_MOBILE": 1 if mobile else 0,
            "CALL_ID": result["CALL_ID"],
            "CRM_ENTITY_TYPE": result["CRM_ENTITY_TYPE"],
            "CRM_ENTITY_ID": result["CRM_ENTITY_ID"],
            "CRM_CREATED_LEAD": result["CRM_CREATED_LEAD"],
            "CRM_CREATED_ENTITIES": result["CRM_CREATED_ENTITIES"],
        }
        count = await services.emit(
            s, "ONEXTERNALCALLSTART", data, entity=f"CALL:{result['CALL_ID']}",
            user_id=user_id, only_app=target.app.id,
        )  # fmt: skip
        return Started(result["CALL_ID"], target.app.id, count, result)


async def request_callback(
    services: Services,
    *,
    number: str,
    text: str = "",
    voice: str = "",
    app_id: int | None = None,
    line_number: str | None = None,
    entity_type: str | None = None,
    entity_id: int | None = None,
) -> tuple[int, list[int]]:
    """A callback request: ONEXTERNALCALLBACKSTART to the line's application; no call is
    registered (the application registers it when it calls back). Returns the application
    and the deliveries."""
    async with services.db.transaction() as s:
        target = await _target(s, "ONEXTERNALCALLBACKSTART", app_id, line_number)
        data = {
            "PHONE_NUMBER": phones.strip_to_dialable(number),
            "TEXT": text,
            "VOICE": voice,
            "CRM_ENTITY_TYPE": (entity_type or "").upper(),
            "CRM_ENTITY_ID": entity_id or 0,
            "LINE_NUMBER": target.line.number if target.line else DEFAULT_LINE,
        }
        count = await services.emit(
            s, "ONEXTERNALCALLBACKSTART", data, entity=f"CALLBACK:{number}",
            user_id=target.app.installed_by, only_app=target.app.id,
        )  # fmt: skip
        return target.app.id, count


def _international(number: str, region: str) -> str:
    """E.164 with the plus, as the reference's PHONE_NUMBER_INTERNATIONAL."""
    normal = phones.normalize(number, region)
    return f"+{normal}" if normal and normal.isdigit() else number
