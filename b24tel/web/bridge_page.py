"""Bridge mode, seen (docs/bridge.md, "Watching the queue"): the portal upstream, the writes
waiting for it, how fast it answers and how much of its rate is used, its recent errors,
and the hand on a stuck write — the same as ``b24tel bridge status``, ``retry`` and
``skip``, for administrators."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from b24tel import errors
from b24tel.bridge import status as queue_status
from b24tel.masking import shown_url
from b24tel.services import EndpointCtx
from b24tel.web.admin_pages import admin
from b24tel.web.render import HEADERS, page
from b24tel.wire.numbers import ascii_int

# what each state of a write means to a person
STATES = {"done": "forwarded", "queued": "waiting", "failed": "failed"}


def _bridged(ctx: EndpointCtx) -> str:
    upstream = ctx.services.settings.upstream_url
    if not upstream:
        raise errors.ApiError("NOT_FOUND", "This server is the portal: no bridge here", 404)
    return shown_url(upstream)


async def bridge(ctx: EndpointCtx) -> Response:
    me = await admin(ctx)
    upstream = _bridged(ctx)
    settings = ctx.services.settings
    found = await queue_status.state(ctx.services.db, ctx.services.clock.now(),
                                     journaled=settings.journal_enabled)  # fmt: skip
    return page(
        ctx, me, "bridge.html", upstream=upstream, q=found, states=STATES,
        portal=queue_status.upstream_lines(found.upstream, settings.upstream_rate),
    )  # fmt: skip


async def change(ctx: EndpointCtx) -> Response:
    """Retry or skip one write (POST, with the session's CSRF token)."""
    await admin(ctx)
    _bridged(ctx)
    item_id = ascii_int(str(ctx.request.path_params.get("item_id", "")))
    action = str(ctx.request.path_params.get("action", ""))
    act = {"retry": queue_status.retry, "skip": queue_status.skip}.get(action)
    if item_id is None or act is None:
        raise errors.ApiError("NOT_FOUND", "No such write or action", 404)
    if not await act(ctx.services.db, item_id, ctx.services.clock.now()):
        raise errors.ApiError("NOT_FOUND", f"No write #{item_id} to {action}", 404)
    return RedirectResponse("/admin/bridge", 303, headers=HEADERS)
