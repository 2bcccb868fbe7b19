"""REST handlers: profile, user.get, user.current, app.info."""

from __future__ import annotations

from typing import Any

from b24tel import errors
from b24tel.paging import ListResult
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Ctx
from b24tel.users import oauth, search
from b24tel.users import repository as repo
from b24tel.users.schemas import UserGetParams

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
