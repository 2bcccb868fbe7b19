"""Installing and uninstalling a local application, as the portal does when an
administrator does it (docs/reference/events.md, "Applications"): ONAPPINSTALL with fresh
tokens to the application's handler; ONAPPUNINSTALL, then no more tokens, bindings or
queued events."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.events import outbox
from b24tel.events.models import Delivery, EventBinding, OfflineEvent
from b24tel.events.subscriptions import check_handler
from b24tel.services import Services
from b24tel.users import lookup, tokens
from b24tel.users import repository as users_repo
from b24tel.users.models import App

LANGUAGE = "en"


class InstallError(ValueError):
    """The application or user cannot be installed or uninstalled (said in one line)."""


async def install(services: Services, app_id: int, user_id: int) -> int | None:
    """Install for ``user_id`` (who must be an active administrator). Returns the id of the
    ONAPPINSTALL delivery, or None when the application has no handler URL."""
    found = await _app(services, app_id)
    if found.handler_url:
        await check_handler(found.handler_url, services.settings.event_handler_allowlist)
    now = services.clock.now()
    async with services.db.transaction() as s:
        app = await users_repo.get_app(s, app_id)
        assert app is not None
        user = await lookup.active_user(s, user_id)
        if user is None or not user.admin:
            raise InstallError(f"user {user_id} is not an active administrator")
        # a new installation: the old one's subscriptions and queue are gone, as in the
        # reference (apps bind again from their installer)
        await _forget(s, app.id, "application reinstalled")
        app.installed_at, app.installed_by = now, user_id
        if not app.handler_url:
            return None
        delivery = await outbox.enqueue(
            s, now, token=outbox.app_token(services.secret, app), event="ONAPPINSTALL",
            data={"VERSION": app.version, "ACTIVE": "Y", "INSTALLED": "Y",
                  "LANGUAGE_ID": LANGUAGE},
            handler=app.handler_url, entity="app", app_id=app.id, auth_user_id=user_id,
        )  # fmt: skip
        await s.flush()
        return delivery.id


async def uninstall(services: Services, app_id: int, *, clean: bool = False) -> int | None:
    """Uninstall: ONAPPUNINSTALL (without tokens; its application token is the old
    installation's), then the application's tokens, bindings and queues are gone."""
    now = services.clock.now()
    async with services.db.transaction() as s:
        app = await users_repo.get_app(s, app_id)
        if app is None or app.installed_at is None:
            raise InstallError(f"application {app_id} is not installed")
        token = outbox.app_token(services.secret, app)
        await _forget(s, app.id, "application uninstalled")
        await tokens.revoke_app_tokens(s, app.id, now)
        app.installed_at = None
        if not app.handler_url:
            return None
        delivery = await outbox.enqueue(
            s, now, token=token, event="ONAPPUNINSTALL",
            data={"LANGUAGE_ID": LANGUAGE, "CLEAN": 1 if clean else 0},
            handler=app.handler_url, entity="app", app_id=app.id,
        )  # fmt: skip
        await s.flush()
        return delivery.id


async def _app(services: Services, app_id: int) -> App:
    async with services.db.transaction(readonly=True) as s:
        app = await users_repo.get_app(s, app_id)
    if app is None or app.revoked_at is not None:
        raise InstallError(f"no active application with ID {app_id}")
    return app


async def _forget(s: AsyncSession, app_id: int, why: str) -> None:
    await s.execute(delete(EventBinding).where(EventBinding.app_id == app_id))
    await s.execute(delete(OfflineEvent).where(OfflineEvent.app_id == app_id))
    await s.execute(
        update(Delivery)
        .where(Delivery.app_id == app_id, Delivery.status.in_(("pending", "sending")))
        .values(status="dead", last_error=why, lease_until=None)
    )
