"""``/metrics`` in the Prometheus text format.

Request counts and latencies are counted by each process as requests pass the guard
(``rest/guard``). Everything kept in the database — recordings and their bytes by how they
arrived, event deliveries by state and the age of the oldest undelivered one, the journal's
size — is read when Prometheus scrapes, so every instance reports the same shared figures.

With ``metrics_token`` set, a scrape must send ``Authorization: Bearer <token>``; without
it, only clients on this machine are answered.
"""

from __future__ import annotations

import gc
import ipaddress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select
from starlette.responses import Response

from b24tel import errors
from b24tel.bridge import status as bridge_status
from b24tel.bridge.queue import RETRY_CODES
from b24tel.events.models import Delivery
from b24tel.journal.models import JournalRow
from b24tel.recordings.models import RecordingFile
from b24tel.services import EndpointCtx, Services
from b24tel.wire.secrets import same_secret

# seconds: a register answers in milliseconds, an upload of an hour of audio in seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One per process (one per app in tests: nothing global)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._series: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "b24tel_requests",
            "HTTP requests answered, by method or endpoint and status",
            ["method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "b24tel_request_duration_seconds",
            "Time to answer, by method",
            ["method"],
            buckets=BUCKETS,
            registry=r,
        )
        self.recordings = Gauge(
            "b24tel_recordings",
            "Recording files kept, current or earlier versions",
            ["state"],
            registry=r,
        )
        self.recording_bytes = Gauge(
            "b24tel_recording_bytes",
            "Bytes of kept recordings, by how they arrived",
            ["source"],
            registry=r,
        )
        self.deliveries = Gauge(
            "b24tel_event_deliveries", "Event deliveries by state", ["status"], registry=r
        )
        self.lag = Gauge(
            "b24tel_event_delivery_lag_seconds",
            "Age of the oldest event not yet delivered (0 when none waits)",
            registry=r,
        )
        self.journal = Gauge("b24tel_journal_entries", "Entries in the request journal", registry=r)
        self.frozen = Gauge(
            "b24tel_gc_frozen_objects",
            "Objects made at start and kept out of the garbage collector's full collections",
            registry=r,
        )
        self.pool = Gauge(
            "b24tel_db_pool_connections",
            "Database connections of this process",
            ["state"],
            registry=r,
        )

        self.bridge_queue = Gauge(
            "b24tel_bridge_queue",
            "Bridge mode: telephony writes by state (queued: waiting for the portal)",
            ["state"],
            registry=r,
        )
        self.bridge_oldest = Gauge(
            "b24tel_bridge_oldest_queued_seconds",
            "Bridge mode: age of the oldest write waiting for the portal (0 when none waits)",
            registry=r,
        )
        self.upstream_latency = Histogram(
            "b24tel_upstream_duration_seconds",
            "Bridge mode: time the portal took to answer, passed on or forwarded",
            ["leg"],
            buckets=BUCKETS,
            registry=r,
        )
        self.upstream_failures = Counter(
            "b24tel_upstream_failures",
            "Bridge mode: calls to the portal that failed: unreachable, 5xx, limit, refused",
            ["leg", "reason"],
            registry=r,
        )

    def upstream(self, leg: str, status: int, error: str | None, seconds: float | None) -> None:
        """A call to the portal (``b24tel.bridge.service.Observer``)."""
        if seconds is not None:
            self.upstream_latency.labels(leg).observe(seconds)
        reason = (
            "unreachable" if status == 0 else "5xx" if status >= 500
            else "limit" if error in RETRY_CODES else "refused" if error else None
        )  # fmt: skip
        if reason is not None:
            self.upstream_failures.labels(leg, reason).inc()

    def observe(self, method: str, status: int, seconds: float) -> None:
        # a series looked up by its labels once: prometheus_client checks and joins them on
        # every call, 3 % of a trivial request's time
        series = self._series.get((method, status))
        if series is None:
            series = self.requests.labels(method, str(status)), self.latency.labels(method)
            self._series[(method, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    async def refresh(self, services: Services) -> None:
        """Read the shared figures from the database."""
        now = services.clock.now()
        async with services.db.transaction(readonly=True) as s:
            live = RecordingFile.deleted_at.is_(None)
            by_state = select(RecordingFile.replaced_at.is_(None), func.count()).where(live)
            counts = dict(
                (await s.execute(by_state.group_by(RecordingFile.replaced_at.is_(None)))).all()
            )
            by_source = select(RecordingFile.source, func.sum(RecordingFile.size)).where(live)
            sizes = dict((await s.execute(by_source.group_by(RecordingFile.source))).all())
            states = dict(
                (
                    await s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
                ).all()
            )
            oldest = await s.scalar(
                select(func.min(Delivery.created_at)).where(
                    Delivery.status.in_(("pending", "sending"))
                )
            )
            journal = await s.scalar(select(func.count()).select_from(JournalRow))
        self.recordings.labels("current").set(counts.get(True, 0))
        self.recordings.labels("earlier").set(counts.get(False, 0))
        for source in ("content", "upload", "url"):
            self.recording_bytes.labels(source).set(int(sizes.get(source) or 0))
        for status in ("pending", "sending", "delivered", "dead"):
            self.deliveries.labels(status).set(states.get(status, 0))
        self.lag.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        self.journal.set(journal or 0)
        self.frozen.set(gc.get_freeze_count())  # b24tel.app.serving
        if services.bridge is not None:
            waiting, oldest_queued = await bridge_status.depth(services.db)
            for state in ("queued", "failed", "done"):
                self.bridge_queue.labels(state).set(waiting.get(state, 0))
            age = (now - oldest_queued).total_seconds() if oldest_queued else 0.0
            self.bridge_oldest.set(max(0.0, age))
        pool = services.db.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out) and callable(size):
            self.pool.labels("in_use").set(checked_out())
            self.pool.labels("size").set(size())

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _allowed(ctx: EndpointCtx) -> None:
    token = ctx.services.settings.metrics_token
    if token:
        scheme, _, sent = (ctx.request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not same_secret(sent.strip(), token):
            raise errors.ApiError("UNAUTHORIZED", "Send the metrics token as a Bearer token", 401)
        return
    client = ctx.request.client.host if ctx.request.client else ""
    try:
        local = ipaddress.ip_address(client).is_loopback
    except ValueError:
        local = False
    if not local:
        raise errors.access_denied("Set metrics_token to read /metrics from another machine")


async def metrics(ctx: EndpointCtx) -> Response:
    _allowed(ctx)
    services = ctx.services
    assert isinstance(services.metrics, Metrics)
    await services.metrics.refresh(services)
    return Response(
        services.metrics.text(),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
