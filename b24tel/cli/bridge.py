"""``b24tel bridge``: the queue of a bridge (docs/bridge.md, "When the portal fails")."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from b24tel.bridge import status as queue_status
from b24tel.bridge.importer import Importer, ImportFailed, Progress
from b24tel.bridge.service import Bridge
from b24tel.cli.base import Ctx, run_db, run_services
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.masking import shown_url
from b24tel.services import Services


@click.group("bridge")
def bridge() -> None:
    """Bridge mode: the portal upstream and the writes waiting for it."""


@bridge.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """The portal upstream, the writes waiting for it, the oldest one, recent failures."""
    settings = obj.settings()

    async def work(db: Database) -> queue_status.QueueState:
        return await queue_status.state(db, Clock().now(), journaled=settings.journal_enabled)

    found = run_db(settings, work)
    upstream = shown_url(settings.upstream_url) if settings.upstream_url else None
    if as_json:
        click.echo(json.dumps({"upstream": upstream, **found.as_json()}))
        return
    click.echo(f"upstream: {upstream or 'none (this server is the portal)'}")
    click.echo(f"waiting: {found.queued}, failed: {found.failed}, forwarded: {found.done}")
    if found.oldest is not None:
        click.echo(f"oldest waiting since: {found.oldest.isoformat()}")
    click.echo(f"calls without the portal's CALL_ID yet: {found.calls_ours}")
    for line in queue_status.upstream_lines(found.upstream, settings.upstream_rate):
        click.echo(line)
    for item in found.recent:
        click.echo(
            f"  #{item['id']} {item['state']} {item['method']} {item['call_id']} "
            f"(tries {item['attempts']}) {item['error'] or ''}".rstrip()
        )


def _change(obj: Ctx, item_id: int, action: str) -> None:
    settings = obj.settings()
    now = Clock().now()
    act = queue_status.retry if action == "retry" else queue_status.skip

    async def work(db: Database) -> bool:
        return await act(db, item_id, now)

    if not run_db(settings, work):
        raise click.ClickException(f"no write #{item_id} to {action} (see b24tel bridge status)")
    click.echo(f"#{item_id}: {'queued again' if action == 'retry' else 'skipped'}")


@bridge.command("retry")
@click.argument("item_id", type=int)
@click.pass_obj
def retry(obj: Ctx, item_id: int) -> None:
    """Try a failed or waiting write again now."""
    _change(obj, item_id, "retry")


@bridge.command("skip")
@click.argument("item_id", type=int)
@click.pass_obj
def skip(obj: Ctx, item_id: int) -> None:
    """Give up on a waiting write (the call's next writes go on)."""
    _change(obj, item_id, "skip")


@bridge.command("import")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only calls that began on or after this date (the portal's time zone).",
)
@click.pass_obj
def import_history(obj: Ctx, since: dt.datetime | None) -> None:
    """Copy the portal's call history and the recordings it still has into this server.

    Resumable: stopped at any point, the next run skips every call already here."""
    settings = obj.settings()
    if not settings.upstream_url:
        raise click.ClickException("not a bridge: set upstream_url first (docs/bridge.md)")
    bar: Any = None

    def step(p: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=p.total, label="calls", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    async def work(services: Services) -> Progress:
        assert isinstance(services.bridge, Bridge)
        when = since.replace(tzinfo=services.tz) if since else None
        return await Importer(services.bridge, settings.phone_region).run(when, step)

    try:
        done = run_services(settings, work)
    except ImportFailed as exc:
        raise click.ClickException(f"{exc}; run the import again to go on") from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"imported {done.imported} calls ({done.recordings} with a recording); "
               f"{done.skipped} already here")  # fmt: skip
    for line in done.unrecorded or []:
        click.echo(f"  recording not copied: {line}")
