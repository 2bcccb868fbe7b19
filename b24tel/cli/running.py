"""``b24tel serve`` once its checks have passed (``b24tel.cli.serve``): the first start's
user and webhook, then the app on uvicorn — in this process, or in ``--workers`` processes
sharing the port."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from typing import Any

import click
import uvicorn
from sqlalchemy import func, select
from uvicorn.supervisors import Multiprocess

from b24tel.app import SETTINGS_ENV, create_app, serving
from b24tel.cli.base import webhook_url
from b24tel.config import Settings
from b24tel.db.engine import open_database
from b24tel.httpserver import http_options
from b24tel.identity import ALL_SCOPES
from b24tel.users import service as users
from b24tel.users.models import User
from b24tel.web.live import CardHub


async def bootstrap(settings: Settings) -> str | None:
    """On first start: user 1 (an administrator) and a webhook with every scope. Returns
    the webhook URL, or None when the database already has users."""
    from b24tel.clock import Clock

    db = open_database(settings)
    now = Clock().now()
    try:
        async with db.transaction() as session:
            count = (await session.execute(select(func.count(User.id)))).scalar_one()
            if count:
                return None
            user = await users.create_user(session, now, name="Admin", admin=True)
            _, code = await users.create_webhook(
                session,
                now,
                user_id=user.id,
                scopes=frozenset(ALL_SCOPES),
                title="created on first start",
            )
            return webhook_url(settings.base_url, user.id, code)
    finally:
        await db.dispose()


def run(settings: Settings, sock: socket.socket, workers: int, url: str | None) -> None:
    """Serve on ``sock`` until stopped; ``url``: the webhook a first start created."""
    if url:
        click.echo("First start: created user 1 (administrator) and an incoming webhook.")
        click.echo(f"Webhook URL: {url}")
        click.echo(f"Try: curl {url}server.time")
    scheme = "https" if settings.tls_cert else "http"
    click.echo(
        f"b24tel listening on {scheme}://{settings.host}:{settings.port}"
        + (f" with {workers} worker processes" if workers > 1 else "")
        + " (CTRL+C to stop)"
    )
    if workers > 1:
        # each worker builds its app from the same settings (b24tel.app.app_from_environment)
        os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
        # (open pages' live streams then end at the graceful timeout, or at once when closed)
        worker_config = server_config(settings, "b24tel.app:app_from_environment", workers)
        Multiprocess(worker_config, sockets=[sock]).run()
        return
    server = Server(server_config(settings, serving(create_app(settings)), 1))
    # uvicorn re-raises the signal it stopped on once shutdown is complete (as uvicorn.run)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


class Server(uvicorn.Server):
    """uvicorn's server; on a stop signal, open pages' live streams end at once instead of
    holding the shutdown up."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        CardHub.close_all()
        super().handle_exit(sig, frame)


def server_config(settings: Settings, app: Any, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        log_level=settings.log_level.lower(),
        log_config=None,  # the server's own handler and formatter (b24tel.logs)
        access_log=False,  # b24tel.access writes it, without secrets
        # in-flight requests finish after SIGTERM/SIGINT, up to this many seconds
        timeout_graceful_shutdown=settings.graceful_timeout,
        # X-Forwarded-For/-Proto only from the proxies the settings name
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=[p.strip() for p in settings.trusted_proxies.split(",") if p.strip()],
        workers=workers,
        factory=isinstance(app, str),
        **http_options(settings),
    )
