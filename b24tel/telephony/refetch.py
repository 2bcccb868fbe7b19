"""finish's deprecated RECORD_URL, fetched after the response (the reference downloads inside
the request), and fetches an instance took on but never finished — it was killed or lost
power — taken on again, each by exactly one instance: a conditional update claims the row
(``record_fetch_started_at``), so of several instances sweeping at once one wins."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select, update

from b24tel import logs
from b24tel.errors import ApiError
from b24tel.rest.guard import unexpected
from b24tel.services import Services
from b24tel.telephony import records
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Statistic

log = logging.getLogger("b24tel.telephony")

SWEEP_INTERVAL = 60.0
MARGIN = 60.0  # beyond record_url_timeout: a fetch this old has no instance working on it
BATCH = 20


def spawn(services: Services, call_id: str, url: str) -> None:
    services.background.spawn(fetch(services, call_id, url), name=f"record-url {call_id}")


async def fetch(services: Services, call_id: str, url: str) -> None:
    """A failure is logged and kept on the statistic row, never an error."""
    status, error = "done", None
    try:
        await records.attach_record_url(services, call_id, url)
    except ApiError as exc:
        status, error = "failed", exc.description
        log.warning("RECORD_URL of %s not attached: %s", call_id, logs.redact(exc.description))
    except Exception as exc:
        # a defect, not the client's doing: the row must still leave `pending`
        status, error = "failed", unexpected(exc, "", f"RECORD_URL of {call_id}").description
    async with services.db.transaction() as s:
        stat = await repo.statistic(s, call_id)
        if stat is not None:
            stat.record_fetch_status, stat.record_fetch_error = status, error


async def resume_abandoned(services: Services) -> list[str]:
    """Take on pending fetches nobody is working on; returns the calls this instance took."""
    now = services.clock.now()
    cutoff = now - dt.timedelta(seconds=services.settings.record_url_timeout + MARGIN)
    abandoned = or_(
        Statistic.record_fetch_started_at.is_(None), Statistic.record_fetch_started_at < cutoff
    )
    async with services.db.transaction(readonly=True) as s:
        rows = (
            await s.execute(
                select(Statistic.call_id, Statistic.call_record_url)
                .where(Statistic.record_fetch_status == "pending", abandoned)
                .order_by(Statistic.id)
                .limit(BATCH)
            )
        ).all()
    taken = []
    for call_id, url in rows:
        async with services.db.transaction() as s:
            claim = await s.execute(
                update(Statistic)
                .where(
                    Statistic.call_id == call_id,
                    Statistic.record_fetch_status == "pending",
                    abandoned,
                )
                .values(record_fetch_started_at=now)
            )
        if claim.rowcount and url:  # type: ignore[attr-defined]
            log.info("taking on the abandoned RECORD_URL fetch of %s", call_id)
            spawn(services, call_id, url)
            taken.append(call_id)
    return taken
