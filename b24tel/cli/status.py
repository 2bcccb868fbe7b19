"""``b24tel status``: the portal's address, and whether a server runs on this data."""

from __future__ import annotations

import datetime as dt
import json

import click

from b24tel import __version__
from b24tel.cli.base import Ctx, run_db, shown_url
from b24tel.db.engine import Database
from b24tel.ops import instances


def _uptime(since: dt.datetime) -> str:
    seconds = max(0, int((instances.wall_now() - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """The portal's address (what installs, events and printed links carry), and the
    servers running on this data: version, uptime, whether they deliver events."""
    settings = obj.settings()

    async def work(db: Database) -> tuple[tuple[str, str], list[instances.Running]]:
        return await instances.address(db, settings), await instances.live(db)

    (address, source), running = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({
            "portal_url": address,
            "source": source,
            "database": shown_url(settings),
            "servers": [
                {"url": r.url, "version": r.version, "host": r.host, "pid": r.pid,
                 "delivers_events": r.delivers, "started_at": r.started_at.isoformat()}
                for r in running
            ],
        }))  # fmt: skip
        return
    click.echo(f"portal address: {address} ({source})")
    click.echo(f"database: {shown_url(settings)}")
    if not running:
        click.echo(f"server: none running on this data (this is b24tel {__version__})")
        return
    for r in running:
        what = "serves " + r.url if r.url else "delivers events only"
        events = ", delivers events" if r.url and r.delivers else ""
        click.echo(
            f"server: running, b24tel {r.version}, up {_uptime(r.started_at)}, "
            f"pid {r.pid} on {r.host}: {what}{events}"
        )
