"""Outgoing webhooks of local integrations (docs/reference/events.md, "Outgoing webhooks"):
online events to one handler, authenticated by their own application token only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.events import catalog, outbox
from b24tel.events.models import EventBinding, OutgoingWebhook
from b24tel.users import lookup


class OutgoingError(ValueError):
    pass


def event_names(names: Sequence[str]) -> list[str]:
    """Known events an outgoing webhook can receive (not the application-only ones)."""
    out = []
    for name in names:
        definition = catalog.find(name)
        if definition is None:
            raise OutgoingError(f"unknown event {name!r} (see the list in docs/api/events.md)")
        if definition.app_only:
            raise OutgoingError(f"{definition.name} is delivered to applications only")
        out.append(definition.name)
    return sorted(set(out))


async def create(
    session: AsyncSession,
    now: dt.datetime,
    secret: str,
    *,
    user_id: int,
    events: list[str],
    handler: str,
    title: str = "",
) -> tuple[OutgoingWebhook, str]:
    """The webhook and its application token (shown to the user, who checks it)."""
    if await lookup.active_user(session, user_id) is None:
        raise OutgoingError(f"user {user_id} does not exist or is not active")
    hook = OutgoingWebhook(user_id=user_id, handler=handler, title=title, created_at=now)
    session.add(hook)
    await session.flush()
    for name in events:
        session.add(
            EventBinding(
                app_id=None, outgoing_id=hook.id, event=name, handler=handler, auth_type=0,
                offline=False, auth_connector="", options=None, user_id=user_id,
                created_at=now,
                binding_key=EventBinding.key_of(f"out:{hook.id}", name, handler, 0, False, ""),
            )
        )  # fmt: skip
    return hook, outbox.outgoing_token(secret, hook)


async def listing(session: AsyncSession) -> list[tuple[OutgoingWebhook, list[str]]]:
    hooks = (await session.execute(select(OutgoingWebhook).order_by(OutgoingWebhook.id))).scalars()
    out = []
    for hook in hooks:
        names = (
            await session.execute(
                select(EventBinding.event).where(EventBinding.outgoing_id == hook.id)
            )
        ).scalars()
        out.append((hook, sorted(names)))
    return out


async def revoke(session: AsyncSession, hook_id: int, now: dt.datetime) -> bool:
    hook = await session.get(OutgoingWebhook, hook_id)
    if hook is None or hook.revoked_at is not None:
        return False
    hook.revoked_at = now
    return True
