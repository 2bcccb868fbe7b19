"""``b24tel serve`` and ``b24tel db``: options and the checks before a start
(``b24tel.cli.running`` serves once they have passed)."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from pathlib import Path

import click

from b24tel import logs, startup
from b24tel.cli.base import DATABASE_ERRORS, Ctx, database_problem, make_data_dir
from b24tel.config import Settings
from b24tel.db import migrate


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
        # the app and the HTTP server, imported once every check has passed: a start that
        # fails says why without waiting for them
        with startup.imports():
            from b24tel.cli import running

        url = asyncio.run(running.bootstrap(settings))
    except BaseException:
        sock.close()
        raise
    running.run(settings, sock, workers, url)


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
