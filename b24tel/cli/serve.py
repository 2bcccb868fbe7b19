"""``b24tel serve`` and ``b24tel db``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import ssl
from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlalchemy import func, select
from uvicorn.supervisors import Multiprocess

from b24tel import logs
from b24tel.app import SETTINGS_ENV, create_app, serving
from b24tel.cli.base import DATABASE_ERRORS, Ctx, database_problem, make_data_dir, webhook_url
from b24tel.config import Settings
from b24tel.db import migrate
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


def prepare_database(settings: Settings, upgrade: bool) -> None:
    url = settings.effective_database_url
    try:
        if settings.is_sqlite:
            make_data_dir(settings)
            migrate.upgrade(url)
            return
        if upgrade:
            migrate.upgrade(url)
        current = migrate.current(url)
    except DATABASE_ERRORS as exc:
        raise database_problem(settings, exc) from exc
    if current != migrate.head_revision():
        raise click.ClickException(
            "the database schema is not up to date: run `b24tel db upgrade` first "
            "(or start with --upgrade)"
        )
    make_data_dir(settings)  # staging and, by default, recordings


def check_faults(settings: Settings) -> None:
    """A fault file that cannot be used stops the start with the reason."""
    if not settings.faults_file:
        return
    from b24tel.clock import Clock
    from b24tel.faults import rules, service

    try:
        for number, spec in enumerate(service.read_file(settings.faults_file), 1):
            try:
                rules.parse(spec, Clock().now(), "check")
            except rules.RuleError as exc:
                raise rules.RuleError(f"{settings.faults_file}, rule {number}: {exc}") from exc
    except rules.RuleError as exc:
        raise click.ClickException(str(exc)) from exc


def check_tls(settings: Settings) -> None:
    """Load the certificate and key now, so a bad file is one line, before anything
    else happens."""
    if not settings.tls_cert:
        return
    for path in (settings.tls_cert, settings.tls_key):
        if not Path(path).is_file():
            raise click.ClickException(f"TLS file not found: {path}")
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise click.ClickException(
            f"cannot use {settings.tls_cert} and {settings.tls_key} as a PEM certificate "
            f"chain and private key: {exc}"
        ) from exc


def listen(settings: Settings) -> socket.socket:
    try:
        return socket.create_server(
            (settings.host, settings.port),
            family=socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
            backlog=2048,
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: "
            f"{os.strerror(exc.errno) if exc.errno else exc}"
        ) from exc


@click.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML settings file.")
@click.option("--data-dir", "data_dir", help="Data directory (default ./b24tel-data).")
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option(
    "--port", default=None, type=click.IntRange(1, 65535), help="Listen port (default 8080)."
)
@click.option("--tls-cert", default=None, help="PEM certificate chain for HTTPS.")
@click.option("--tls-key", default=None, help="PEM private key for HTTPS.")
@click.option(
    "--upgrade/--no-upgrade",
    default=False,
    help="Upgrade a non-SQLite database schema before serving.",
)
@click.option(
    "--faults",
    "faults_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML file of fault rules to load at start.",
)
@click.option(
    "--no-delivery",
    is_flag=True,
    help="Do not deliver events from this process (run `b24tel events deliver` instead).",
)
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (PostgreSQL only; SQLite is one instance).",
)
@click.pass_obj
def serve(
    obj: Ctx,
    config: str | None,
    data_dir: str | None,
    host: str | None,
    port: int | None,
    tls_cert: str | None,
    tls_key: str | None,
    upgrade: bool,
    faults_file: str | None,
    no_delivery: bool,
    workers: int,
) -> None:
    """Serve the REST API (SQLite and a local recordings folder by default)."""
    obj = Ctx(config or obj.config, data_dir or obj.data_dir)
    # every check before any side effect: nothing is created by a start that fails
    overrides: dict[str, object] = {"event_delivery": False} if no_delivery else {}
    if faults_file:
        overrides["faults_file"] = faults_file
    settings = obj.settings(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, **overrides)
    check_tls(settings)
    check_faults(settings)
    if workers > 1 and settings.is_sqlite:
        raise click.ClickException(
            "--workers needs PostgreSQL: an SQLite database is served by one process. "
            "Set database_url (B24TEL_DATABASE_URL) to a PostgreSQL database, or drop --workers."
        )
    logs.configure(settings.log_level, settings.log_format)
    sock = listen(settings)
    try:
        # the database and first-start creation only once the port is ours
        prepare_database(settings, upgrade)
        url = asyncio.run(bootstrap(settings))
    except BaseException:
        sock.close()
        raise
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


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Ctx) -> None:
    """Upgrade the database schema to the newest revision."""
    settings = obj.settings()
    make_data_dir(settings)
    try:
        migrate.upgrade(settings.effective_database_url)
        revision = migrate.current(settings.effective_database_url)
    except DATABASE_ERRORS as exc:
        raise database_problem(settings, exc) from exc
    click.echo(f"database at revision {revision}")


@db.command("revision")
@click.option("--message", "-m", required=True, help="What the revision changes.")
@click.pass_obj
def db_revision(obj: Ctx, message: str) -> None:
    """For developers: autogenerate a migration from the models (against an up-to-date
    database)."""
    from b24tel.tables import metadata

    settings = obj.settings()
    try:
        migrate.revision(settings.effective_database_url, message, metadata)
    except DATABASE_ERRORS as exc:
        raise database_problem(settings, exc) from exc
