"""``b24tel recordings verify|gc``."""

from __future__ import annotations

import sys

import click

from b24tel.cli.base import Ctx, run_db
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.ops import retention
from b24tel.recordings import ops
from b24tel.recordings.service import Recordings


@click.group()
def recordings() -> None:
    """Recording files and their storage."""


@recordings.command("verify")
@click.pass_obj
def verify(obj: Ctx) -> None:
    """Check that every file row has an object of the right size and hash, and every object
    has a row. Exits with status 1 on any problem."""
    settings = obj.settings()

    async def work(db: Database) -> ops.Report:
        store = Recordings.open(settings, Clock())
        try:
            return await ops.verify(db, store)
        finally:
            await store.storage.close()

    report = run_db(settings, work)
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}")
    click.echo(f"{report.checked} file(s) checked, {len(report.problems)} problem(s)")
    if report.problems:
        sys.exit(1)


@recordings.command("gc")
@click.option(
    "--orphan-age",
    default=3600,
    show_default=True,
    type=float,
    help="Seconds an object without a file row must be old before it is removed. "
    "Leftovers of interrupted writes go as soon as no writer holds them.",
)
@click.option(
    "--retention-days",
    default=None,
    type=int,
    help="Override recording_retention_days for this run.",
)
@click.option(
    "--max-age-days",
    default=None,
    type=int,
    help="Override recording_max_age_days for this run (0: keep recordings forever).",
)
@click.option(
    "--batch-size",
    default=retention.BATCH,
    show_default=True,
    type=click.IntRange(min=1),
    help="Recordings removed per transaction by retention.",
)
@click.pass_obj
def gc(
    obj: Ctx,
    orphan_age: float,
    retention_days: int | None,
    max_age_days: int | None,
    batch_size: int,
) -> None:
    """Remove recordings past recording_max_age_days, replaced versions past retention,
    orphaned objects and leftovers of interrupted writes (the ones no running server
    holds). Interrupted, a rerun finishes the job."""
    settings = obj.settings()

    async def work(db: Database) -> ops.Report:
        store = Recordings.open(settings, Clock())
        try:
            expired = await retention.expire(
                db,
                store,
                max_age_days=settings.recording_max_age_days
                if max_age_days is None
                else max_age_days,
                batch=batch_size,
            )
            report = await ops.gc(
                db,
                store,
                orphan_age=orphan_age,
                retention_days=settings.recording_retention_days
                if retention_days is None
                else retention_days,
            )
            report.actions[:0] = expired.actions
            return report
        finally:
            await store.storage.close()

    report = run_db(settings, work)
    for action in report.actions:
        click.echo(action)
    click.echo(f"{len(report.actions)} item(s) removed")
