"""REST handlers: profile, user.get, user.current, user.add, user.update, app.info."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors
from b24tel.paging import ListResult
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Ctx
from b24tel.users import lookup, oauth, search, service
from b24tel.users import repository as repo
from b24tel.users.schemas import UserFieldsParams, UserGetParams
from b24tel.wire.php import opt_int

USER_SCOPES = frozenset({"user_basic", "user_brief"})


def register(registry: Registry) -> None:
    oauth.register(registry)

    @registry.method(
        "user.get", scope="user", params=UserGetParams, is_list=True, alt_scopes=USER_SCOPES
    )
    async def user_get(ctx: Ctx, p: UserGetParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            return await search.search_users(
                s,
                filters=p.filters(),
                order=p.ordering(),
                start=ctx.start,
                tz=ctx.services.tz,
                scopes=ctx.caller.scopes,
                select_=p.select,
            )

    @registry.method("user.add", scope="user", params=UserFieldsParams)
    async def user_add(ctx: Ctx, p: UserFieldsParams) -> int:
        async with ctx.db.transaction() as s:
            await _administrator(s, ctx)
            fields = _checked(p)
            if not (fields.email or "").strip():
                # the reference invites by e-mail (docs/reference/users.md, "user.add and
                # user.update")
                raise errors.business_error("EMAIL is required")
            try:
                user = await service.add_user(s, ctx.services.clock.now(), fields)
            except ValueError as exc:
                raise errors.business_error(str(exc)) from exc
            return user.id

    @registry.method("user.update", scope="user", params=UserFieldsParams)
    async def user_update(ctx: Ctx, p: UserFieldsParams) -> bool:
        async with ctx.db.transaction() as s:
            await _administrator(s, ctx)
            fields = _checked(p)
            user_id = opt_int(p.id)
            if user_id is None or user_id <= 0:
                raise errors.business_error("ID is not defined or invalid.")
            try:
                user = await service.update_user(s, user_id, fields)
            except LookupError as exc:
                raise errors.business_error("User not found") from exc
            except ValueError as exc:
                raise errors.business_error(str(exc)) from exc
        if not user.active:
            ctx.services.auth_cache.clear()  # other instances hear it from the database
        return True

    @registry.method("user.current", scope="user", alt_scopes=USER_SCOPES)
    async def user_current(ctx: Ctx, p: NoParams) -> dict[str, Any]:
        async with ctx.db.transaction(readonly=True) as s:
            user = await repo.get_user(s, ctx.caller.user_id)
        assert user is not None  # authentication checked it
        return search.user_dict(user, ctx.services.tz, ctx.caller.scopes)

    @registry.method("profile", scope="basic")
    async def profile(ctx: Ctx, p: NoParams) -> dict[str, Any]:
        async with ctx.db.transaction(readonly=True) as s:
            user = await repo.get_user(s, ctx.caller.user_id)
        if user is None or not user.active:
            return {}
        return {
            "ID": str(user.id),
            "ADMIN": user.admin,
            "NAME": user.name,
            "LAST_NAME": user.last_name,
            "PERSONAL_GENDER": user.personal_gender,
            "TIME_ZONE": user.time_zone,
        }

    @registry.method("user.admin", scope="basic")
    async def user_admin(ctx: Ctx, p: NoParams) -> bool:
        async with ctx.db.transaction(readonly=True) as s:
            user = await repo.get_user(s, ctx.caller.user_id)
        return bool(user and user.admin)

    @registry.method("app.info", scope="basic")
    async def app_info(ctx: Ctx, p: NoParams) -> dict[str, Any]:
        if ctx.caller.app_id is None:
            # app.info outside an application answers 400, unlike other app-context
            # errors (docs/reference/users.md, "app.info")
            raise errors.access_denied("Application context required", status=400)
        async with ctx.db.transaction(readonly=True) as s:
            app = await repo.get_app(s, ctx.caller.app_id)
        assert app is not None
        return {
            "ID": app.id,
            "CODE": app.client_id,
            "VERSION": app.version,
            "STATUS": "L",
            "INSTALLED": True,
            "PAYMENT_EXPIRED": "N",
            "DAYS": None,
            "LANGUAGE_ID": "en",
            "LICENSE": "en_selfhosted",
            "LICENSE_TYPE": "selfhosted",
            "LICENSE_FAMILY": "selfhosted",
        }


async def _administrator(session: AsyncSession, ctx: Ctx) -> None:
    """Only an administrator invites and edits users (docs/reference/users.md, "user.add and
    user.update")."""
    found = await lookup.active_user(session, ctx.caller.user_id)
    if found is None or not found.admin:
        raise errors.access_denied()


def _checked(p: UserFieldsParams) -> service.UserFields:
    try:
        return p.fields()
    except ValueError as exc:
        raise errors.business_error(str(exc)) from exc
