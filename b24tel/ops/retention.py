"""Recordings kept for a fixed time (`recording_max_age_days`): older files — the current
recording of a call and its earlier versions — lose their bytes; the call stays, and its
RECORD_FILE_ID answers that retention deleted the file.

Bounded batches in id order, each: delete the objects, then mark the rows in one short
transaction (Recordings.remove_files). A run killed at any point is finished by the next."""

from __future__ import annotations

import datetime as dt

from b24tel.db.engine import Database
from b24tel.recordings import repository as repo
from b24tel.recordings.ops import Report
from b24tel.recordings.service import Recordings

REASON = "retention"
BATCH = 100


async def expire(
    db: Database, recordings: Recordings, *, max_age_days: int, batch: int = BATCH
) -> Report:
    report = Report()
    if max_age_days <= 0:
        return report
    cutoff = recordings.clock.now() - dt.timedelta(days=max_age_days)
    after = 0
    while True:
        async with db.transaction(readonly=True) as s:
            rows = list(await repo.created_before(s, cutoff, after, batch))
        if not rows:
            return report
        await recordings.remove_files(db, rows, REASON)
        for row in rows:
            report.checked += 1
            report.actions.append(
                f"removed file {row.id} (stored {row.created_at:%Y-%m-%d}, "
                f"past {max_age_days} days): {row.storage_key}"
            )
        after = rows[-1].id
