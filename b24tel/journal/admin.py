"""``/admin/api/requests``: the journal for the web interface and scripts
(docs/api/admin.md). Administrators only; plain JSON, not the Bitrix envelope."""

from __future__ import annotations

from starlette.responses import Response

from b24tel import errors
from b24tel.journal import queries
from b24tel.journal.models import JournalRow
from b24tel.rest.envelope import json_response
from b24tel.rest.registry import Registry
from b24tel.services import EndpointCtx
from b24tel.users.gate import admin_only
from b24tel.wire.php import php_int

GET = frozenset({"GET"})


async def list_requests(ctx: EndpointCtx) -> Response:
    await admin_only(ctx)
    q = {k: str(v) for k, v in ctx.query.items() if isinstance(v, str | int)}
    wanted = queries.Filter(
        method=q.get("method", ""), caller=q.get("caller", ""), status=q.get("status", ""),
        since=q.get("since", ""), kind=q.get("kind", ""),
        after_id=max(php_int(q.get("after", 0)), 0), limit=php_int(q.get("limit", 50)) or 50,
    )  # fmt: skip
    try:
        async with ctx.services.db.transaction(readonly=True) as s:
            rows = await queries.entries(s, wanted, ctx.services.clock.now())
    except ValueError as exc:
        raise errors.invalid_request(str(exc)) from exc
    return json_response({"requests": [queries.as_dict(r) for r in rows]})


async def requested_entry(ctx: EndpointCtx) -> JournalRow:
    """The entry of the path's ``entry_id`` (the admin API and the web page), or 404."""
    entry_id = php_int(ctx.request.path_params.get("entry_id"))
    async with ctx.services.db.transaction(readonly=True) as s:
        row = await queries.entry(s, entry_id)
    if row is None:
        raise errors.ApiError("NOT_FOUND", f"No journal entry {entry_id}", 404)
    return row


async def show_request(ctx: EndpointCtx) -> Response:
    await admin_only(ctx)
    row = await requested_entry(ctx)
    found = queries.as_dict(row)
    found["curl"] = queries.curl(row, ctx.base_url)
    return json_response(found)


def register(registry: Registry) -> None:
    registry.endpoint("admin.requests", scope="basic", verbs=GET,
                      path="/admin/api/requests")(list_requests)  # fmt: skip
    registry.endpoint("admin.request", scope="basic", verbs=GET,
                      path="/admin/api/requests/{entry_id}")(show_request)  # fmt: skip
