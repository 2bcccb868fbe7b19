"""The composition root: the only place that wires routes, services and storage."""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from b24tel import errors, logs
from b24tel.background import Background
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.config_values import spool_dir
from b24tel.crm import methods as crm_methods
from b24tel.db import state
from b24tel.db.engine import open_database
from b24tel.db.listen import Listener
from b24tel.errors import ApiError
from b24tel.events import methods as event_methods
from b24tel.events import outbox
from b24tel.events.delivery import Worker
from b24tel.faults import admin as faults_admin
from b24tel.faults import service as fault_rules
from b24tel.faults.engine import Faults
from b24tel.files import methods as recording_methods
from b24tel.identity import AUTH_CHANNEL
from b24tel.journal import admin as journal_admin
from b24tel.journal.writer import Journal
from b24tel.ops import methods as ops_methods
from b24tel.ops.instances import Presence
from b24tel.ops.maintenance import Maintenance
from b24tel.ops.metrics import Metrics
from b24tel.recordings.fetcher import FetchPolicy, SafeFetcher, parse_allowlist
from b24tel.recordings.service import Recordings
from b24tel.rest import batch, system
from b24tel.rest.authcache import AuthCache
from b24tel.rest.deadline import Deadline
from b24tel.rest.endpoint import ANY_METHOD, endpoint_route, rest_endpoint
from b24tel.rest.envelope import COMMON_HEADERS, render_error
from b24tel.rest.guard import Guard
from b24tel.rest.limits import (
    OperatingLimiter,
    RateLimiter,
    SharedOperatingLimiter,
    SharedRateLimiter,
)
from b24tel.rest.registry import Registry
from b24tel.services import Services
from b24tel.telephony import methods as telephony_methods
from b24tel.users import methods as user_methods
from b24tel.users.authenticator import DatabaseAuthenticator
from b24tel.web import methods as web_methods
from b24tel.web.live import CardHub
from b24tel.web.render import page_error
from b24tel.web.sessions import Sessions
from b24tel.wire.phpquery import InputLimits

if TYPE_CHECKING:
    from b24tel.bridge.service import Bridge


def build_registry() -> Registry:
    registry = Registry()
    system.register(registry)
    batch.register(registry)
    user_methods.register(registry)
    crm_methods.register(registry)
    recording_methods.register(registry)
    telephony_methods.register(registry)
    event_methods.register(registry)
    journal_admin.register(registry)
    faults_admin.register(registry)
    web_methods.register(registry)
    ops_methods.register(registry)
    return registry


def build_fetcher(settings: Settings) -> SafeFetcher:
    return SafeFetcher(
        FetchPolicy(
            allowlist=parse_allowlist(settings.record_url_allowlist),
            connect_timeout=settings.record_url_connect_timeout,
            read_timeout=settings.record_url_read_timeout,
            total_timeout=settings.record_url_timeout,
            max_size=settings.record_url_max_size,
            verify_tls=settings.record_url_verify_tls,
        )
    )


def build_bridge(services: Services) -> Bridge | None:
    """Bridge mode when an upstream portal is set (docs/bridge.md). Its modules are imported
    only then: with their HTTP client (aiohttp) they cost about 5 % of the app's import CPU
    and 9 MiB, which every ``serve`` and every command that builds the app would otherwise
    pay."""
    settings, db, clock = services.settings, services.db, services.clock
    if not settings.upstream_url:
        return None
    from b24tel.bridge.mirror import Mirror
    from b24tel.bridge.oauth import AppTokens
    from b24tel.bridge.pace import Pace
    from b24tel.bridge.queue import Queue
    from b24tel.bridge.service import Bridge, RecordLinks
    from b24tel.bridge.uploads import Uploads
    from b24tel.bridge.upstream import Upstream

    upstream = Upstream(settings.upstream_url, settings.upstream_timeout)
    if settings.upstream_oauth:
        oauth_url = settings.upstream_oauth_url or settings.upstream_origin + "/oauth/token/"
        upstream.with_app(lambda client: AppTokens(
            db, client, oauth_url, settings.upstream_client_id, settings.upstream_client_secret,
            settings.upstream_refresh_token,
        ))  # fmt: skip
    queue = Queue(db, clock, Path(settings.data_dir) / "bridge")
    # the portal's rate, counted for every instance on PostgreSQL
    limiter = RateLimiter(clock, None) if settings.is_sqlite else SharedRateLimiter(clock, None, db)
    pace = Pace(limiter, settings.upstream_rate)
    mirror = Mirror(db, services.recordings, services.fetcher, clock, services.tz,
                    settings.phone_region)  # fmt: skip
    uploads = Uploads(db, clock, upstream, mirror, services.recordings, settings.upload_url_ttl)
    read_batch = partial(
        batch.ran_elsewhere, services.registry, services.input_limits, settings.data_dir
    )
    bridge = Bridge(upstream, services.journal, clock, queue, pace, mirror, uploads, read_batch)
    if settings.bridge_record_mode == "url":
        rest_url = settings.public_url.rstrip("/") + "/rest/"
        bridge.links = RecordLinks(rest_url, settings.download_link_ttl, clock)
    if isinstance(services.metrics, Metrics):
        bridge.observe = services.metrics.upstream
    return bridge


def bridge_of(services: Services) -> Bridge | None:
    """The bridge ``build_bridge`` made, if any: ``services.bridge`` is typed by what requests
    need of it, the lifecycle needs the rest."""
    return cast("Bridge | None", services.bridge)


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or Clock()
    db = open_database(settings)
    journal = Journal(
        db,
        clock,
        enabled=settings.journal_enabled,
        max_entries=settings.journal_max_entries,
        max_age_days=settings.journal_max_age_days,
    )
    services = Services(
        settings=settings,
        clock=clock,
        db=db,
        registry=build_registry(),
        rate_limiter=(
            RateLimiter(clock, settings.rate_limit_params)
            if settings.is_sqlite
            else SharedRateLimiter(clock, settings.rate_limit_params, db)
        ),
        operating=(
            OperatingLimiter(clock, settings.operating_limit)
            if settings.is_sqlite
            else SharedOperatingLimiter(clock, settings.operating_limit, db)
        ),
        tz=ZoneInfo(settings.timezone),
        recordings=Recordings.open(settings, clock),
        fetcher=build_fetcher(settings),
        background=Background(),
        auth_cache=AuthCache(clock, settings.auth_cache_ttl),
        authenticator=DatabaseAuthenticator(db, clock),
        sessions=Sessions(db, clock),
        input_limits=InputLimits(settings.max_input_vars, settings.max_input_nesting),
        journal=journal,
        faults=Faults(db, clock),
        metrics=Metrics(),
        outbox=outbox.emit,
    )
    services.bridge = build_bridge(services)
    return services


async def start(services: Services) -> None:
    """Load what every instance shares from the database."""
    spool_dir(services.settings.data_dir).mkdir(parents=True, exist_ok=True)
    if services.settings.faults_file:
        async with services.db.transaction() as session:
            await fault_rules.load_file(
                session, services.settings.faults_file, services.clock.now()
            )
    if services.settings.secret_key:
        services.secret = services.settings.secret_key
    else:
        async with services.db.transaction() as session:
            services.secret = await state.get_or_create(session, "secret_key")
    if isinstance(services.sessions, Sessions):
        services.sessions.secret = services.secret  # session cookies are signed with it
    bridge = bridge_of(services)
    if bridge is not None and bridge.links is not None:
        bridge.links.secret = services.secret  # links to recordings for the portal


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=COMMON_HEADERS)


def wants_page(request: Request) -> bool:
    """A browser asking for something outside the API: it gets an HTML page."""
    api = request.url.path.startswith(("/rest/", "/oauth/", "/admin/api/"))
    return not api and "text/html" in request.headers.get("accept", "")


def deadline_answer(scope: Scope, error: ApiError) -> Response:
    request = Request(scope)
    return page_error(request, error) if wants_page(request) else render_error(error)


async def not_found(request: Request, exc: Exception) -> Response:
    # JSON for clients, also outside the method routes; a browser asking for a page that
    # does not exist gets one saying so
    path = request.url.path
    if path.rstrip("/") == "/rest":
        return render_error(errors.method_not_found())
    if wants_page(request):
        return page_error(request, ApiError("NOT_FOUND", "No such page", 404))
    return render_error(ApiError("NOT_FOUND", "Not found", 404))


def own_path_routes(registry: Registry) -> list[Route]:
    """Endpoints registered at a path of their own (``/oauth/token/``, pages), with and
    without the trailing slash; fixed paths before patterns (``/calls/start`` before
    ``/calls/{call_id}``)."""
    routes = []
    specs = [spec for spec in registry.endpoints() if spec.path is not None]
    for spec in sorted(specs, key=lambda e: ("{" in (e.path or ""), e.path)):
        assert spec.path is not None
        on_error = page_error if spec.page else None
        # every verb reaches the endpoint, which refuses the wrong ones
        for path in sorted({spec.path, spec.path.rstrip("/") or "/"}):
            routes.append(Route(path, endpoint_route(spec.name, on_error), methods=ANY_METHOD))
    return routes


# `serve --workers N`: the settings every worker process builds its app from
SETTINGS_ENV = "B24TEL_WORKER_SETTINGS"


def app_from_environment() -> Starlette:
    """The app of one worker process of ``serve --workers`` (an import string for uvicorn:
    the parent checked the settings, prepared the database and passes them here)."""
    settings = Settings(**json.loads(os.environ[SETTINGS_ENV]))
    logs.configure(settings.log_level, settings.log_format)  # a new process: its own logging
    return serving(create_app(settings))


def serving(app: Starlette) -> Starlette:
    """``app`` as the one app of a serving process, its heap settled: what the imports and
    the app's making left lives as long as the process, so it leaves the garbage collector's
    generations (``gc.freeze``) and a full collection walks only what requests made. Under
    load those full collections took 150 ms every few seconds — the p99 of register at
    concurrency 8 (docs/benchmarks.md, "Request throughput, round three"). Only for a
    process that serves one app until it exits: cycles among frozen objects are never
    collected (the test suite's many apps in one process must not). No collection comes
    first: at this point it found about 60 unreachable objects among 128 000, and walking
    them cost some 80 ms of every start."""
    gc.freeze()
    return app


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    services = build_services(settings, clock)

    worker = Worker(services)
    listener = Listener(settings.effective_database_url, settings.database_connect_timeout)
    # a credential revoked by any instance or command: resolve callers afresh
    listener.on(AUTH_CHANNEL, lambda _payload: services.auth_cache.clear())
    live = CardHub(services.db, listener)
    maintenance = Maintenance(services)
    # the address this server listens on, for commands run beside it (b24tel status)
    presence = Presence(services.db, url=settings.base_url, delivers=settings.event_delivery)
    # bridge mode: the writes that waited for the portal go on to it
    bridge = bridge_of(services)
    forwarder = None
    if bridge is not None:
        from b24tel.bridge.worker import Forwarder

        forwarder = Forwarder(bridge, settings.bridge_card_max_age, settings.bridge_history_days)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await start(services)
        await services.journal.start()
        await listener.start()
        if settings.event_delivery:
            await worker.start()
        await maintenance.start()
        await presence.start()
        if forwarder is not None:
            await forwarder.start()
        try:
            yield
        finally:
            # first: a command from now on queues for the next server instead of waiting
            await presence.stop()
            if forwarder is not None:
                await forwarder.stop()
            await maintenance.stop()
            live.close()
            await listener.stop()
            await services.background.join(timeout=settings.graceful_timeout)
            if settings.event_delivery:
                await worker.stop(timeout=settings.graceful_timeout)
            await services.journal.stop()
            await services.db.dispose()
            await services.recordings.storage.close()
            if bridge is not None:
                await bridge.close()

    app = Starlette(
        routes=[
            Route("/rest/{path:path}", rest_endpoint, methods=ANY_METHOD),
            Route("/rest/{path:path}", preflight, methods=["OPTIONS"]),
            *own_path_routes(services.registry),
            Mount("/static", StaticFiles(packages=[("b24tel.web", "static")]), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
        # inside Starlette's own error middleware, so no exception ever reaches it
        middleware=[
            Middleware(Guard, max_head=settings.max_request_head),
            Middleware(Deadline, seconds=settings.request_deadline, render=deadline_answer),
        ],
    )
    # a REST path must never answer 3xx (docs/reference/protocol.md, "Routing"): no slash redirects
    app.router.redirect_slashes = False
    app.state.services = services
    app.state.event_worker = worker
    app.state.live = live
    app.state.maintenance = maintenance
    return app
