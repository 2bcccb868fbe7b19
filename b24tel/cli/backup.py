"""``b24tel backup --out FILE`` and ``b24tel restore FILE``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from b24tel.cli.base import DATABASE_ERRORS, Ctx, database_problem, require_database
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.ops import backup as ops
from b24tel.ops import restore as restoring
from b24tel.recordings.service import Recordings
from b24tel.recordings.storage import RecordingStorage


@click.command("backup")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (a tar file).",
)
@click.pass_obj
def backup(obj: Ctx, out: Path) -> None:
    """Write a consistent backup while the server runs: the database (SQLite's online
    backup, or pg_dump) and the recordings it points at (for S3: a manifest of keys and
    sha256 sums). The file appears only complete."""
    settings = obj.settings()
    require_database(settings)
    outcome = _run(settings, lambda storage: ops.backup(settings, storage, out.resolve()))
    for problem in outcome.problems:
        click.echo(f"PROBLEM {problem}")
    if outcome.problems:
        click.echo("No backup written: run it again, or `b24tel recordings verify` first.")
        sys.exit(1)
    where = "included" if outcome.storage == "local" else "listed; the bytes stay in S3"
    click.echo(
        f"Backup written to {out}: {outcome.database} database, {outcome.files} "
        f"recording(s) ({outcome.bytes} bytes, {where})"
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def restore(obj: Ctx, archive: Path) -> None:
    """Restore a backup into an empty data dir and database (the settings' ones). If it is
    interrupted, run it again: it finishes."""
    settings = obj.settings()
    outcome = _run(settings, lambda storage: restoring.restore(settings, storage, archive))
    for problem in outcome.problems:
        click.echo(f"PROBLEM {problem}")
    if outcome.problems:
        click.echo("The restore is not finished: fix the problems and run it again.")
        sys.exit(1)
    click.echo(
        f"Restored {archive}: {outcome.database} database, {outcome.files} recording(s) "
        f"({outcome.bytes} bytes). Next: `b24tel recordings verify`, then `b24tel serve` "
        "(with --upgrade if this version's schema is newer)."
    )


def _run(
    settings: Settings, work: Callable[[RecordingStorage], Awaitable[ops.Outcome]]
) -> ops.Outcome:
    async def main() -> ops.Outcome:
        storage = Recordings.open(settings, Clock()).storage
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except ops.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:  # a storage key that would leave the storage root
        raise click.ClickException(f"refused: {exc}") from exc
    except DATABASE_ERRORS as exc:  # (OSError among them: a full disk, a lost connection)
        raise database_problem(settings, exc) from exc
