"""What every command shares: settings from the group options, a database to work on, and
one-line errors instead of tracebacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from b24tel import errors, startup
from b24tel.config import Settings, SettingsError
from b24tel.db import migrate
from b24tel.db.engine import Database, open_database
from b24tel.errors import ApiError
from b24tel.ops import instances

if TYPE_CHECKING:
    from b24tel.services import Services

T = TypeVar("T")

# what a database that cannot be reached or used raises
DATABASE_ERRORS = (SQLAlchemyError, OSError)


class Ctx:
    def __init__(self, config: str | None, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        try:
            return Settings.load(config_file=self.config, data_dir=self.data_dir, **overrides)
        except (SettingsError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc


def webhook_url(base: str, user_id: int, code: str) -> str:
    return f"{base.rstrip('/')}/rest/{user_id}/{code}/"


def shown_url(settings: Settings) -> str:
    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


def database_problem(settings: Settings, exc: BaseException) -> click.ClickException:
    reason = getattr(exc, "orig", None) or exc
    text = (getattr(reason, "strerror", None) or str(reason)).strip().splitlines()
    return click.ClickException(
        f"cannot use the database {shown_url(settings)}: {text[0] if text else type(exc).__name__}"
    )


def run_against_database(settings: Settings, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main``; a database that cannot be used is one line naming it, no traceback."""
    try:
        return asyncio.run(main())
    except DATABASE_ERRORS as exc:
        raise database_problem(settings, exc) from exc
    except ApiError as exc:
        if not errors.database_away(exc):
            raise
        raise database_problem(settings, exc.__cause__ or exc) from exc


def make_data_dir(settings: Settings) -> None:
    try:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create the data directory {settings.data_dir}: {exc.strerror or exc}"
        ) from exc


def require_database(settings: Settings) -> None:
    """Admin commands work on the server's database and never create one: say where we
    looked and how to point elsewhere."""
    if settings.is_sqlite:
        path = Path(make_url(settings.effective_database_url).database or "")
        if not path.is_file():
            raise click.ClickException(
                f"no b24tel database at {path}. Run this command where you run `b24tel "
                "serve`, or point at the server's data directory with --data-dir or "
                "B24TEL_DATA_DIR (or at its database with B24TEL_DATABASE_URL)."
            )
    try:
        current = migrate.current(settings.effective_database_url)
    except DATABASE_ERRORS as exc:
        raise database_problem(settings, exc) from exc
    if current is None:
        raise click.ClickException(
            f"the database {shown_url(settings)} has no b24tel tables yet: start `b24tel "
            "serve` once or run `b24tel db upgrade`"
        )


def run_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    require_database(settings)

    async def main() -> T:
        db = open_database(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return run_against_database(settings, main)


def run_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` with the server's services (the database at the current schema, the
    shared secret loaded), as one instance of the server would."""
    with startup.imports():
        from b24tel.app import build_services, start

    require_database(settings)
    if migrate.current(settings.effective_database_url) != migrate.head_revision():
        raise click.ClickException(
            f"the database {shown_url(settings)} is at an older schema: run `b24tel db upgrade`"
        )

    async def main() -> T:
        services = build_services(settings)
        try:
            await start(services)
            # what this command prints and queues names the running server's address
            services.portal_url = await instances.portal_url(services.db, settings)
            return await work(services)
        finally:
            await services.db.dispose()
            await services.recordings.storage.close()

    return run_against_database(settings, main)
