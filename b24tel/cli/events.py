"""Commands of the events feature: installing applications, outgoing webhooks, starting
calls from the portal's side, and the delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlalchemy import select

from b24tel import logs, masking
from b24tel.cli.admin import apps, webhooks
from b24tel.cli.base import Ctx, run_services
from b24tel.cli.waiting import WAIT, report_deliveries
from b24tel.errors import ApiError
from b24tel.events import fairness, lifecycle, outbox, outgoing
from b24tel.events.delivery import Worker
from b24tel.events.models import Delivery
from b24tel.events.subscriptions import check_handler
from b24tel.ops import instances
from b24tel.services import Services
from b24tel.telephony import click as portal_calls


def wait_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--wait", default=WAIT, show_default=True, type=click.FloatRange(0, 600),
        help="Seconds to wait for the running server's first attempt.",
    )(f)  # fmt: skip


def _fail(exc: Exception) -> click.ClickException:
    if isinstance(exc, ApiError):
        return click.ClickException(exc.description)
    return click.ClickException(str(exc))


# --- applications ---------------------------------------------------------------------------


def _change_install(
    obj: Ctx, done: str, change: Callable[[Services], Awaitable[int | None]], wait: float
) -> None:
    """Install or uninstall, queue the lifecycle event, say how its delivery went."""

    async def work(services: Services) -> list[str]:
        try:
            delivery = await change(services)
        except (lifecycle.InstallError, ApiError) as exc:
            raise _fail(exc) from exc
        return await report_deliveries(services, [delivery] if delivery else [], wait)

    lines = run_services(obj.settings(), work)
    click.echo(done)
    for line in lines:
        click.echo(line)


@apps.command("install")
@click.argument("app_id", type=int)
@click.option("--user", "user_id", required=True, type=int, help="The installing administrator.")
@wait_option
@click.pass_obj
def apps_install(obj: Ctx, app_id: int, user_id: int, wait: float) -> None:
    """Install an application as an administrator would: ONAPPINSTALL with fresh tokens to
    its handler URL."""
    _change_install(
        obj, f"application {app_id} installed",
        lambda services: lifecycle.install(services, app_id, user_id), wait,
    )  # fmt: skip


@apps.command("uninstall")
@click.argument("app_id", type=int)
@click.option("--clean", is_flag=True, help="Tell the application to delete its data (CLEAN=1).")
@wait_option
@click.pass_obj
def apps_uninstall(obj: Ctx, app_id: int, clean: bool, wait: float) -> None:
    """Uninstall: ONAPPUNINSTALL, then its tokens, event bindings and queues are gone."""
    _change_install(
        obj, f"application {app_id} uninstalled",
        lambda services: lifecycle.uninstall(services, app_id, clean=clean), wait,
    )  # fmt: skip


# --- outgoing webhooks ----------------------------------------------------------------------


@webhooks.group("outgoing")
def outgoing_group() -> None:
    """Outgoing webhooks: events to a handler URL, checked with an application token."""


@outgoing_group.command("create")
@click.option("--event", "events", multiple=True, required=True, help="Event name (repeatable).")
@click.option("--handler", required=True, help="URL the events are POSTed to.")
@click.option("--user", "user_id", default=1, show_default=True, type=int, help="Owner user ID.")
@click.option("--title", default="", help="A note on what the webhook is for.")
@click.pass_obj
def outgoing_create(
    obj: Ctx, events: tuple[str, ...], handler: str, user_id: int, title: str
) -> None:
    """Create an outgoing webhook; prints its ID and application token."""
    settings = obj.settings()

    async def work(services: Services) -> tuple[int, str]:
        try:
            names = outgoing.event_names(events)
            url = await check_handler(handler, settings.event_handler_allowlist)
            async with services.db.transaction() as s:
                hook, token = await outgoing.create(
                    s, services.clock.now(), services.secret, user_id=user_id, events=names,
                    handler=url, title=title,
                )  # fmt: skip
                return hook.id, token
        except (outgoing.OutgoingError, ApiError) as exc:
            raise _fail(exc) from exc

    hook_id, token = run_services(settings, work)
    click.echo(f"outgoing_webhook_id: {hook_id}\napplication_token: {token}")


@outgoing_group.command("list")
@click.pass_obj
def outgoing_list(obj: Ctx) -> None:
    """List outgoing webhooks."""

    async def work(services: Services) -> list[str]:
        async with services.db.transaction(readonly=True) as s:
            return [
                f"{h.id}\t{'revoked' if h.revoked_at else 'active'}\t{h.user_id}\t"
                f"{','.join(names)}\t{masking.shown_url(h.handler)}\t{h.title}"
                for h, names in await outgoing.listing(s)
            ]

    click.echo("ID\tSTATE\tUSER\tEVENTS\tHANDLER\tTITLE")
    for line in run_services(obj.settings(), work):
        click.echo(line)


@outgoing_group.command("revoke")
@click.argument("hook_id", type=int)
@click.pass_obj
def outgoing_revoke(obj: Ctx, hook_id: int) -> None:
    """Revoke an outgoing webhook: no more events reach its handler."""

    async def work(services: Services) -> bool:
        async with services.db.transaction() as s:
            return await outgoing.revoke(s, hook_id, services.clock.now())

    if not run_services(obj.settings(), work):
        raise click.ClickException(f"no active outgoing webhook with ID {hook_id}")
    click.echo(f"outgoing webhook {hook_id} revoked")


# --- calls the portal starts ----------------------------------------------------------------


@click.group("call")
def call() -> None:
    """Calls started from the portal's side (click-to-call, callback requests)."""


@call.command("start")
@click.option("--user", "user_id", required=True, type=int, help="The user who clicks.")
@click.option("--number", required=True, help="The number to call.")
@click.option("--line", "line_number", default=None, help="External line (its application dials).")
@click.option("--app", "app_id", default=None, type=int, help="Application that dials.")
@click.option("--entity-type", default=None, help="CRM entity the call is for (CONTACT…).")
@click.option("--entity-id", default=None, type=int, help="Its ID.")
@click.option("--call-list-id", default=0, type=int, help="CALL_LIST_ID to pass on.")
@click.option("--mobile", is_flag=True, help="As if clicked in the mobile app (IS_MOBILE=1).")
@wait_option
@click.pass_obj
def call_start(obj: Ctx, /, wait: float, **opts: Any) -> None:
    """Click-to-call: register an outgoing call and send ONEXTERNALCALLSTART to the
    application that owns the line; prints the CALL_ID."""

    async def work(services: Services) -> tuple[str, list[str]]:
        try:
            started = await portal_calls.start_call(services, **opts)
        except (portal_calls.ClickError, ApiError) as exc:
            raise _fail(exc) from exc
        return started.call_id, await report_deliveries(services, started.deliveries, wait)

    call_id, lines = run_services(obj.settings(), work)
    click.echo(call_id)
    for line in lines:
        click.echo(line, err=True)


@call.command("callback")
@click.option("--number", required=True, help="The number to call back.")
@click.option("--text", default="", help="What to say to the employee before connecting.")
@click.option("--voice", default="", help="Text-to-speech voice id.")
@click.option("--line", "line_number", default=None, help="External line of the request.")
@click.option("--app", "app_id", default=None, type=int, help="Application that calls back.")
@click.option("--entity-type", default=None, help="CRM entity the request is for.")
@click.option("--entity-id", default=None, type=int, help="Its ID.")
@wait_option
@click.pass_obj
def call_callback(obj: Ctx, /, wait: float, **opts: Any) -> None:
    """A callback request: ONEXTERNALCALLBACKSTART to the line's application."""

    async def work(services: Services) -> list[str]:
        try:
            _, ids = await portal_calls.request_callback(services, **opts)
        except portal_calls.ClickError as exc:
            raise _fail(exc) from exc
        return await report_deliveries(services, ids, wait)

    for line in run_services(obj.settings(), work):
        click.echo(line)


# --- the delivery log -----------------------------------------------------------------------


@click.group("events")
def events() -> None:
    """Event deliveries."""


def _row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "event": d.event,
        "status": d.status,
        "attempts": d.attempts,
        "status_codes": [int(c) for c in d.status_codes.split(",") if c],
        "last_latency_ms": d.last_latency_ms,
        "last_error": d.last_error,
        "handler": masking.shown_url(d.handler),
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "idempotency_key": d.idempotency_key,
    }


@events.command("log")
@click.option("--event", default=None, help="Only this event.")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "delivered", "dead", "failed"]),
    default=None,
    help="failed: every delivery with a failed attempt that is not delivered.",
)
@click.option("--limit", default=50, show_default=True, help="Newest first, at most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def events_log(obj: Ctx, event: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Deliveries: attempts, status codes, latency, last error."""

    async def work(services: Services) -> tuple[list[dict[str, Any]], dict[str, str]]:
        stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
        if event:
            stmt = stmt.where(Delivery.event == event.upper())
        if status == "failed":
            stmt = stmt.where(Delivery.status.in_(("pending", "dead")), Delivery.attempts > 0)
        elif status:
            stmt = stmt.where(Delivery.status == status)
        async with services.db.transaction(readonly=True) as s:
            found = list((await s.execute(stmt)).scalars())
            health = await fairness.states(s)
        now, threshold = services.clock.now(), services.settings.event_breaker_failures
        states = {h.handler: fairness.describe(h, now, threshold) for h in health}
        return [{**_row(d), "breaker": states.get(d.handler)} for d in found], {
            masking.shown_url(h): state for h, state in states.items()
        }

    rows, breakers = run_services(obj.settings(), work)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return
    click.echo("ID\tEVENT\tSTATUS\tATTEMPTS\tCODES\tLATENCY_MS\tHANDLER\tLAST_ERROR")
    for r in rows:
        codes = ",".join(str(c) for c in r["status_codes"])
        click.echo(
            f"{r['id']}\t{r['event']}\t{r['status']}\t{r['attempts']}\t{codes}\t"
            f"{r['last_latency_ms'] if r['last_latency_ms'] is not None else ''}\t"
            f"{r['handler']}\t{r['last_error'] or ''}"
        )
    for handler, state in breakers.items():
        click.echo(f"handler {handler}: {state}")


@events.command("redeliver")
@click.argument("delivery_id", type=int)
@wait_option
@click.pass_obj
def events_redeliver(obj: Ctx, delivery_id: int, wait: float) -> None:
    """Send a delivery again (a dead one, or one the handler lost), with the same
    idempotency key."""

    async def work(services: Services) -> list[str]:
        async with services.db.transaction() as s:
            d = await s.get(Delivery, delivery_id)
            if d is None:
                raise click.ClickException(f"no delivery with ID {delivery_id}")
            d.status, d.next_attempt_at, d.lease_until = "pending", services.clock.now(), None
            await outbox.wake_workers(s)
        return await report_deliveries(services, [delivery_id], wait)

    for line in run_services(obj.settings(), work):
        click.echo(line)


async def _deliver_until_stopped(services: Services, worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    # commands beside it see that someone delivers what they queue
    presence = instances.Presence(services.db, url=None, delivers=True)
    await worker.start()
    await presence.start()
    click.echo("delivering events (CTRL+C to stop)")
    await stop.wait()
    await presence.stop()
    await worker.stop(timeout=services.settings.graceful_timeout)


@events.command("deliver")
@click.option("--once", is_flag=True, help="One round of what is due, then exit.")
@click.pass_obj
def events_deliver(obj: Ctx, once: bool) -> None:
    """Run the delivery worker in this process (for `serve --no-delivery` setups) until
    interrupted. Its attempts are in the request journal as a server's are."""
    settings = obj.settings()
    logs.configure(settings.log_level, settings.log_format)

    async def work(services: Services) -> int:
        worker = Worker(services)
        await services.journal.start()
        try:
            if once:
                return await worker.run_once()
            await _deliver_until_stopped(services, worker)
            return 0
        finally:
            await services.journal.stop()

    sent = run_services(settings, work)
    if once:
        click.echo(f"{sent} deliveries attempted")
