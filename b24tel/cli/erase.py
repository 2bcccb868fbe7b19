"""``b24tel erase --phone NUMBER [--dry-run]``."""

from __future__ import annotations

import getpass

import click

from b24tel.cli.base import Ctx, run_db
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.ops.erasure import BATCH, Counts, Eraser, NotANumber
from b24tel.recordings.service import Recordings


@click.command("erase")
@click.option("--phone", required=True, help="The number, in any spelling.")
@click.option("--dry-run", is_flag=True, help="Report what would be touched; change nothing.")
@click.option(
    "--by",
    "requested_by",
    default=None,
    help="Who asked, for the audit (default: the operating-system user).",
)
@click.option(
    "--batch-size",
    default=BATCH,
    show_default=True,
    type=click.IntRange(min=1),
    help="Calls erased per transaction.",
)
@click.pass_obj
def erase(obj: Ctx, phone: str, dry_run: bool, requested_by: str | None, batch_size: int) -> None:
    """Erase a phone number: every call with it (recordings with every version,
    transcripts), the number in CRM activities, missed-call rows and request-journal
    entries. Audited in the database without the number; interrupted, a rerun finishes."""
    settings = obj.settings()

    async def work(db: Database) -> Counts:
        store = Recordings.open(settings, Clock())
        eraser = Eraser(db, store, settings.phone_region, Clock())
        try:
            if dry_run:
                return await eraser.survey(phone)
            return await eraser.erase(phone, requested_by or _os_user(), batch_size)
        except NotANumber as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            await store.storage.close()

    counts = run_db(settings, work)
    click.echo(f"{'Would erase' if dry_run else 'Erased'} the number {phone}:")
    for line in counts.lines():
        click.echo(f"  {line}")
    if dry_run:
        click.echo("Dry run: nothing was changed.")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
