"""The Users page (administrators): the people of the portal — add, edit, dismiss and take
back, set a password, issue a sign-in link. The same rules as `user.add` / `user.update`
and `b24tel users …` (docs/ui.md, "Users")."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from b24tel import errors
from b24tel.rest.endpoint import page_form
from b24tel.services import EndpointCtx
from b24tel.users import repository as repo
from b24tel.users import service
from b24tel.web.render import HEADERS, Viewer, page, viewer
from b24tel.web.sessions import LINK_TTL, Sessions, SignInError
from b24tel.wire.numbers import ascii_int

# what a redirect after a change says (never text from the request)
DONE = {
    "added": "User added.",
    "saved": "Saved.",
    "deactivated": "Deactivated: their webhooks, tokens and sign-in stopped.",
    "activated": "Activated.",
    "password": "Password set; their browsers were signed out.",
}
TEXT_FIELDS = ("name", "last_name", "email", "inner_number", "work_phone", "personal_mobile")


async def _admin(ctx: EndpointCtx) -> Viewer:
    me = await viewer(ctx)
    if not me.admin:
        raise errors.access_denied("Only administrators manage users")
    return me


def _fields(form: FormData) -> service.UserFields:
    """The form's fields; every one is set (an empty one is cleared), a name is needed."""
    values: dict[str, Any] = {k: str(form.get(k) or "")[:300] for k in TEXT_FIELDS}
    if not values["name"].strip():
        raise ValueError("A user needs a first name.")
    return service.UserFields(**values, admin=form.get("admin") == "on")


async def users(ctx: EndpointCtx) -> Response:
    """The list, and the form that adds someone (POST)."""
    me = await _admin(ctx)
    message, entered = "", dict.fromkeys(TEXT_FIELDS, "")
    if ctx.request.method == "POST":
        form = await page_form(ctx.request)
        try:
            async with ctx.services.db.transaction() as s:
                user = await service.add_user(s, ctx.services.clock.now(), _fields(form))
            return RedirectResponse(f"/admin/users/{user.id}?done=added", 303, headers=HEADERS)
        except ValueError as exc:
            message = str(exc)
        entered = {k: str(form.get(k) or "")[:300] for k in TEXT_FIELDS}
    async with ctx.services.db.transaction(readonly=True) as s:
        people = list(await repo.list_users(s))
    return page(ctx, me, "users.html", people=people, message=message, entered=entered)


async def user_page(ctx: EndpointCtx) -> Response:
    """One user; a POST saves the form, dismisses or takes them back, sets a password or
    issues a sign-in link (shown once, here)."""
    me = await _admin(ctx)
    user_id = ascii_int(str(ctx.request.path_params.get("user_id", "")), 18) or 0
    message, link = "", ""
    if ctx.request.method == "POST":
        form = await page_form(ctx.request)
        action = str(form.get("action") or "")
        try:
            done, link = await _act(ctx, user_id, action, form)
        except (LookupError, ValueError, SignInError) as exc:
            message = str(exc)
        else:
            if done:
                return RedirectResponse(f"/admin/users/{user_id}?done={done}", 303, headers=HEADERS)
    async with ctx.services.db.transaction(readonly=True) as s:
        user = await repo.get_user(s, user_id)
    if user is None:
        raise errors.ApiError("NOT_FOUND", "No such user", 404)
    notice = DONE.get(str(ctx.query.get("done") or ""), "")
    minutes = int(LINK_TTL.total_seconds() // 60)
    return page(ctx, me, "user.html", user=user, message=message, notice=notice, link=link,
                link_minutes=minutes)  # fmt: skip


async def _act(ctx: EndpointCtx, user_id: int, action: str, form: FormData) -> tuple[str, str]:
    """Carries out one of the page's actions: what to report after the redirect, or the
    sign-in link to show."""
    sessions = ctx.services.sessions
    assert isinstance(sessions, Sessions)
    if action == "password":
        await sessions.set_password(user_id, str(form.get("password") or ""))
        return "password", ""
    if action == "link":
        token = await sessions.login_link(user_id)
        return "", f"{ctx.services.address.rstrip('/')}/login/link?token={token}"
    if action == "save":
        fields = _fields(form)
    elif action in ("deactivate", "activate"):
        fields = service.UserFields(active=action == "activate")
    else:
        raise ValueError("Choose what to do.")
    async with ctx.services.db.transaction() as s:
        user = await service.update_user(s, user_id, fields)
    if not user.active:
        ctx.services.auth_cache.clear()  # other instances hear it from the database
    return {"save": "saved", "deactivate": "deactivated", "activate": "activated"}[action], ""
