"""Signing in (password, or a one-time link from ``b24tel users login-link``) and out."""

from __future__ import annotations

import secrets

from starlette.responses import RedirectResponse, Response

from b24tel import errors
from b24tel.identity import CSRF_FIELD, SESSION_COOKIE
from b24tel.rest.endpoint import page_form
from b24tel.services import EndpointCtx
from b24tel.web.render import HEADERS, html
from b24tel.web.sessions import SESSION_TTL, Issued, Sessions, SignInError
from b24tel.wire.secrets import same_secret

# the sign-in form has no session yet: its CSRF token is a cookie the form repeats
LOGIN_CSRF = "b24tel_login_csrf"


def _sessions(ctx: EndpointCtx) -> Sessions:
    sessions = ctx.services.sessions
    assert isinstance(sessions, Sessions)
    return sessions


def _next(raw: object) -> str:
    """Only a path of this site: never ``//evil.example`` or ``https://…``."""
    target = raw if isinstance(raw, str) else ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(ctx: EndpointCtx) -> bool:
    return ctx.base_url.startswith("https://")


def _form(
    ctx: EndpointCtx, message: str = "", status: int = 200, target: object = None
) -> Response:
    token = secrets.token_urlsafe(24)
    response = html(
        "login.html",
        {
            "csrf": token,
            "next": _next(target if target is not None else ctx.query.get("next")),
            "message": message,
            "me": None,
            "path": "/login",
        },
        status,
    )
    response.set_cookie(
        LOGIN_CSRF, token, max_age=3600, httponly=True, samesite="strict", secure=_secure(ctx)
    )
    return response


def _signed_in(ctx: EndpointCtx, issued: Issued, target: str) -> Response:
    response = RedirectResponse(target, 303, headers=HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        issued.cookie,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(ctx),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF, httponly=True, samesite="strict", secure=_secure(ctx))
    return response


async def login(ctx: EndpointCtx) -> Response:
    if ctx.request.method != "POST":
        return _form(ctx)
    form = await page_form(ctx.request, 10)
    sent, expected = form.get(CSRF_FIELD), ctx.request.cookies.get(LOGIN_CSRF, "")
    if not isinstance(sent, str) or not expected or not same_secret(sent, expected):
        raise errors.csrf_refused()
    user, password = form.get("login"), form.get("password")
    try:
        issued = await _sessions(ctx).sign_in(
            user if isinstance(user, str) else "",
            password if isinstance(password, str) else "",
            ctx.request.client.host if ctx.request.client else "",
        )
    except SignInError as exc:
        return _form(ctx, str(exc), 401, form.get("next"))
    return _signed_in(ctx, issued, _next(form.get("next")))


async def login_link(ctx: EndpointCtx) -> Response:
    token = ctx.query.get("token")
    try:
        issued = await _sessions(ctx).redeem_link(token if isinstance(token, str) else "")
    except SignInError as exc:
        return _form(ctx, str(exc), 401)
    return _signed_in(ctx, issued, "/")


async def logout(ctx: EndpointCtx) -> Response:
    await _sessions(ctx).sign_out(ctx.request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", 303, headers=HEADERS)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(ctx)
    )
    return response
