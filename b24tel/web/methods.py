"""Every page of the web interface, registered with the registry like any endpoint: its
path, verbs and way of authenticating (a session; sign-in pages need none). The same
middleware, limits on input and error path apply (docs/ui.md)."""

from __future__ import annotations

from starlette.responses import Response

from b24tel import errors
from b24tel.recordings.models import RecordingFile
from b24tel.rest.endpoint import page_form
from b24tel.rest.registry import AuthMode, EndpointHandler, Registry
from b24tel.services import EndpointCtx
from b24tel.web import (
    account,
    admin_pages,
    bridge_page,
    calls,
    crm_edit,
    crm_pages,
    first_run,
    live,
    people_pages,
    waveform,
)
from b24tel.web.dashboard import figures
from b24tel.web.render import page, viewer
from b24tel.wire.numbers import ascii_int

GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})
ONLY_GET = frozenset({"GET"})
BOTH = GET | POST


async def dashboard(ctx: EndpointCtx) -> Response:
    """The figures; on a portal without calls, an administrator's first steps (a POST with
    ``action=webhook`` makes the PBX's webhook and shows its URL once)."""
    me = await viewer(ctx)
    services = ctx.services
    new_hook = ""
    if ctx.request.method == "POST":
        if (await page_form(ctx.request)).get("action") != "webhook":
            raise errors.invalid_request("Nothing to do")
        new_hook = await first_run.make_webhook(ctx)
    dialect = "sqlite" if services.db.is_sqlite else "postgresql"
    async with services.db.transaction(readonly=True) as s:
        shown = await figures(
            s, services.clock.now(), services.tz, None if me.admin else me.user_id, dialect
        )
        empty = await first_run.no_calls(s)
    return page(ctx, me, "dashboard.html", figures=shown, first_run=me.admin and empty,
                new_hook=new_hook, address=services.address,
                guide=first_run.CONNECTORS_GUIDE)  # fmt: skip


async def waveform_svg(ctx: EndpointCtx) -> Response:
    """The picture of the call's recording (or of one earlier version, ``?file=``)."""
    me = await viewer(ctx)
    stat = await calls.visible_call(ctx, me, str(ctx.request.path_params["call_id"]))
    wanted = ctx.query.get("file")
    file_id = ascii_int(wanted)
    file_id = stat.record_file_id if file_id is None else file_id
    async with ctx.services.db.transaction(readonly=True) as s:
        row = await s.get(RecordingFile, file_id) if file_id else None
    headers = {"Cache-Control": "private, max-age=86400"}
    if row is None or row.call_id != stat.call_id or row.deleted_at is not None:
        body = waveform.svg([], "no recording")
    else:
        etag = f'"w1-{row.sha256}"'
        if ctx.request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={**headers, "ETag": etag})
        headers["ETag"] = etag
        try:
            values = await waveform.peaks(ctx.services.recordings.storage.open(row.storage_key))
            body = waveform.svg(values)
        except waveform.Unsupported:
            body = waveform.svg([], f"no picture for {row.codec} recordings; the player plays it")
        except FileNotFoundError:
            body = waveform.svg([], "the recording's file is missing from storage")
    return Response(body, media_type="image/svg+xml", headers=headers)


def register(registry: Registry) -> None:
    def add(
        name: str,
        path: str,
        handler: EndpointHandler,
        verbs: frozenset[str] = GET,
        auth: AuthMode = "session",
    ) -> None:
        registry.endpoint(
            f"web.{name}", scope="basic", auth=auth, verbs=verbs, path=path, page=True
        )(handler)

    add("login", "/login", account.login, BOTH, auth="none")
    add("login_link", "/login/link", account.login_link, GET, auth="none")
    add("logout", "/logout", account.logout, POST)
    add("dashboard", "/", dashboard, BOTH)
    add("test_call", "/calls/test", first_run.test_call, POST)
    add("calls", "/calls", calls.journal)
    add("calls_csv", "/calls.csv", calls.export, ONLY_GET)
    add("call_start", "/calls/start", calls.start_call, POST)
    add("call", "/calls/{call_id}", calls.call_page)
    add("waveform", "/calls/{call_id}/waveform.svg", waveform_svg)
    add("card_dismiss", "/calls/{call_id}/dismiss", live.dismiss, POST)
    add("live", "/live", live.stream, ONLY_GET)  # streams: no HEAD that would run for minutes
    add("crm_list", "/crm/{kind}", crm_pages.entity_list)
    add("crm_item", "/crm/{kind}/{entity_id}", crm_pages.entity_page)
    add("crm_edit", "/crm/{kind}/{entity_id}/edit", crm_edit.edit, BOTH)
    add("requests", "/admin/requests", admin_pages.requests)
    add("requests_feed", "/admin/requests.json", admin_pages.requests_feed)
    add("request", "/admin/requests/{entry_id}", admin_pages.request_page, BOTH)
    add("deliveries", "/admin/deliveries", admin_pages.deliveries)
    add("redeliver", "/admin/deliveries/{delivery_id}/redeliver", admin_pages.redeliver, POST)
    add("faults", "/admin/faults", admin_pages.faults, BOTH)
    add("bridge", "/admin/bridge", bridge_page.bridge)
    add("bridge_change", "/admin/bridge/{item_id}/{action}", bridge_page.change, POST)
    add("users", "/admin/users", people_pages.users, BOTH)
    add("user", "/admin/users/{user_id}", people_pages.user_page, BOTH)
    add("fault_remove", "/admin/faults/{rule_id}/remove", admin_pages.remove_fault, POST)
