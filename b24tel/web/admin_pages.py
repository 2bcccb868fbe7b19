"""For integrators (administrators): the request journal with a live tail, event
deliveries with redelivery, and fault rules — the toolkit's data, as pages."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.responses import JSONResponse, RedirectResponse, Response

from b24tel import errors
from b24tel.events import fairness
from b24tel.events.models import Delivery
from b24tel.faults import service as fault_rules
from b24tel.faults.rules import RuleError, describe
from b24tel.journal import queries
from b24tel.journal import replay as replaying
from b24tel.journal.admin import requested_entry
from b24tel.rest.endpoint import page_form
from b24tel.rest.envelope import encode_json
from b24tel.services import EndpointCtx
from b24tel.web.render import HEADERS, Viewer, page, viewer
from b24tel.wire.numbers import ascii_int
from b24tel.wire.php import php_int

FILTERS = ("method", "caller", "status", "since", "kind")
# what the value of each valued effect looks like (the page's hint and its error)
VALUES = {
    "error": "an error code, QUERY_LIMIT_EXCEEDED",
    "proxy": "502, 503 or 504",
    "latency": "milliseconds, 300 or 200-800",
    "delay_event": "500ms, 5s or 1m",
}
# the fault form: one effect, given by name, with its value
EFFECTS = {
    "error": str,
    "proxy": int,
    "latency": str,
    "drop": bool,
    "truncate": bool,
    "non_json": bool,
    "delay_event": str,
    "duplicate_event": bool,
}


async def admin(ctx: EndpointCtx) -> Viewer:
    me = await viewer(ctx)
    if not me.admin:
        raise errors.access_denied("Only administrators see the integrator's pages")
    return me


def _filter(ctx: EndpointCtx, limit: int = 100) -> queries.Filter:
    q = {k: v.strip()[:100] for k, v in ctx.query.items() if isinstance(v, str) and k in FILTERS}
    after = ctx.query.get("after")
    return queries.Filter(
        **q, limit=limit, after_id=max(php_int(after), 0) if isinstance(after, str) else 0
    )


async def requests(ctx: EndpointCtx) -> Response:
    me = await admin(ctx)
    wanted = _filter(ctx)
    try:
        async with ctx.services.db.transaction(readonly=True) as s:
            rows = await queries.entries(s, wanted, ctx.services.clock.now())
        message = ""
    except ValueError as exc:
        rows, message = [], str(exc)
    entries = [queries.as_dict(r) for r in rows]
    return page(
        ctx,
        me,
        "requests.html",
        entries=entries,
        f=wanted,
        message=message,
        newest=max([e["id"] for e in entries] + [0]),
    )


async def requests_feed(ctx: EndpointCtx) -> Response:
    """The live tail: entries after ``after``, oldest first, as JSON for the page's script."""
    await admin(ctx)
    try:
        async with ctx.services.db.transaction(readonly=True) as s:
            rows = await queries.entries(s, _filter(ctx, 200), ctx.services.clock.now())
    except ValueError as exc:
        raise errors.invalid_request(str(exc)) from exc
    return JSONResponse({"requests": [queries.as_dict(r) for r in rows]}, headers=HEADERS)


async def request_page(ctx: EndpointCtx) -> Response:
    """One entry; a POST sends it again as the same caller and shows the answer."""
    me = await admin(ctx)
    row = await requested_entry(ctx)
    replayed, refused = None, ""
    if ctx.request.method == "POST":
        try:
            replayed = await replaying.replay(ctx.services, row)
        except replaying.NotReplayable as exc:
            refused = str(exc)
    return page(
        ctx,
        me,
        "request.html",
        entry=queries.as_dict(row),
        curl=queries.curl(row, ctx.base_url),
        replayed=replayed,
        refused=refused,
        replayable=row.direction == "in" and row.kind in replaying.REPLAYABLE,
        pretty=lambda v: json.dumps(json.loads(encode_json(v)), indent=2, ensure_ascii=False),
    )


async def deliveries(ctx: EndpointCtx) -> Response:
    me = await admin(ctx)
    status = ctx.query.get("status")
    stmt = select(Delivery).order_by(Delivery.id.desc()).limit(200)
    if isinstance(status, str) and status:
        stmt = stmt.where(Delivery.status == status[:16])
    async with ctx.services.db.transaction(readonly=True) as s:
        rows = (await s.execute(stmt)).scalars().all()
        health = await fairness.states(s)
    now, threshold = ctx.services.clock.now(), ctx.services.settings.event_breaker_failures
    breakers = [(h.handler, fairness.describe(h, now, threshold)) for h in health]
    return page(ctx, me, "deliveries.html", rows=rows, status=status or "", breakers=breakers)


async def redeliver(ctx: EndpointCtx) -> Response:
    await admin(ctx)
    delivery_id = php_int(ctx.request.path_params.get("delivery_id"))
    async with ctx.services.db.transaction() as s:
        row = await s.get(Delivery, delivery_id)
        if row is None:
            raise errors.ApiError("NOT_FOUND", f"No delivery {delivery_id}", 404)
        row.status, row.next_attempt_at, row.lease_until = "pending", ctx.services.clock.now(), None
    worker = getattr(ctx.request.app.state, "event_worker", None)
    if worker is not None:
        worker.wake()
    return RedirectResponse("/admin/deliveries", 303, headers=HEADERS)


async def faults(ctx: EndpointCtx) -> Response:
    me = await admin(ctx)
    message = ""
    if ctx.request.method == "POST":
        message = await _add_rule(ctx)
        if not message:
            return RedirectResponse("/admin/faults", 303, headers=HEADERS)
    async with ctx.services.db.transaction(readonly=True) as s:
        rules = [describe(r) for r in await fault_rules.rules(s)]
    return page(ctx, me, "faults.html", rules=rules, message=message, effects=list(EFFECTS))


async def _add_rule(ctx: EndpointCtx) -> str:
    """Add the rule the form describes; the reason when it cannot be added."""
    form = await page_form(ctx.request, 30)
    data: dict[str, Any] = {
        k: str(form.get(k) or "").strip() for k in ("method", "caller", "kind", "param")
    }
    data = {k: v for k, v in data.items() if v}
    effect, value = str(form.get("effect") or ""), str(form.get("value") or "").strip()
    if effect not in EFFECTS:
        return "Choose an effect"
    kind = EFFECTS[effect]
    if kind is not bool and not value:
        return f"Give a value for {effect}: {VALUES[effect]}"
    number = ascii_int(value, 9) if kind is int else None
    data[effect] = True if kind is bool else value if number is None else number
    for name in ("times", "status", "after", "seed"):
        raw = str(form.get(name) or "").strip()
        if not raw:
            continue
        if (number := ascii_int(raw, 18)) is None:
            return f"{name} is a whole number, not {raw[:20]!r}"
        data[name] = number
    for name in ("probability", "for", "description"):
        raw = str(form.get(name) or "").strip()
        if raw:
            data[name] = raw[:500]
    try:
        async with ctx.services.db.transaction() as s:
            await fault_rules.add(s, data, ctx.services.clock.now(), "web")
    except (RuleError, ValueError) as exc:
        return str(exc)
    ctx.services.faults.invalidate()
    return ""


async def remove_fault(ctx: EndpointCtx) -> Response:
    await admin(ctx)
    rule_id = php_int(ctx.request.path_params.get("rule_id"))
    async with ctx.services.db.transaction() as s:
        await fault_rules.remove(s, rule_id)
    ctx.services.faults.invalidate()
    return RedirectResponse("/admin/faults", 303, headers=HEADERS)
