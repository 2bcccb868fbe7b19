"""Rendering pages: the Jinja2 environment (every value escaped), the signed-in viewer,
security headers, and the HTML error page (the web's counterpart of the JSON renderer)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from b24tel import masking
from b24tel.errors import ApiError
from b24tel.identity import CSRF_HEADER, PageSession
from b24tel.rest.envelope import render_error
from b24tel.services import EndpointCtx
from b24tel.users import lookup

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("b24tel.web", "templates"),
    autoescape=True,  # a contact named <img onerror=…> is shown as text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# scripts and styles only from this server: an injected tag could not run anyway
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    admin: bool
    csrf: str


async def viewer(ctx: EndpointCtx) -> Viewer:
    page: PageSession = ctx.request.state.page
    async with ctx.services.db.transaction(readonly=True) as s:
        user = await lookup.user(s, page.caller.user_id)
    assert user is not None  # the session resolver checked the user
    name = " ".join(p for p in (user.name, user.last_name) if p) or f"User {user.id}"
    return Viewer(user.id, name, user.admin, page.csrf)


def html(template: str, values: dict[str, Any], status: int = 200) -> HTMLResponse:
    body = ENV.get_template(template).render(**values)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def page(ctx: EndpointCtx, me: Viewer, template: str, **values: Any) -> HTMLResponse:
    shared = {"me": me, "tz": ctx.services.tz, "path": ctx.request.url.path,
              "bridge_mode": bool(ctx.services.settings.upstream_url)}  # fmt: skip
    return html(template, {**shared, **values})


def local_time(value: dt.datetime | None, tz: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return value.astimezone(tz).strftime(fmt) if value is not None else ""


def duration(seconds: float | int | None) -> str:
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def tz_offset(tz: Any) -> str:
    """``+03:00``: the zone's offset now."""
    offset = dt.datetime.now(tz).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}" if offset else ""


ENV.globals["tz_offset"] = tz_offset
ENV.filters["local"] = local_time
ENV.filters["duration"] = duration
# a URL someone gave us (an event handler) may carry credentials: shown masked
ENV.filters["masked"] = masking.shown_url


def page_error(request: Request, exc: ApiError) -> Response:
    """Errors of pages: the sign-in form when not signed in, else an HTML page with the
    status; scripts (which send the CSRF header or ask for JSON) get the JSON error."""
    wants_json = CSRF_HEADER in request.headers or "json" in request.headers.get("accept", "")
    if wants_json or request.url.path.startswith("/live"):
        return render_error(exc)
    if exc.status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", 303, headers=HEADERS)
    values = {
        "status": exc.status,
        "code": exc.code,
        "message": exc.description,
        "me": None,
        "path": request.url.path,
    }
    response = html("error.html", values, exc.status)
    response.headers.update(exc.headers)  # Retry-After of a 503
    return response
