"""``b24tel`` command line: serve, db, users, webhooks, apps, dev-cert, config."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from b24tel.config import Settings, SettingsError, render_docs
from b24tel.db.engine import Database

T = TypeVar("T")


class Ctx:
    def __init__(self, config: str | None, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        try:
            return Settings.load(config_file=self.config, data_dir=self.data_dir, **overrides)
        except (SettingsError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc


def run_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.effective_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


@click.group()
@click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML settings file.")
@click.option("--data-dir", "data_dir", help="Data directory (default ./b24tel-data).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """b24tel — a server that speaks Bitrix24's REST protocol for external telephony."""
    ctx.obj = Ctx(config, data_dir)


def _register() -> None:
    from b24tel.cli import admin, devcert, serve

    cli.add_command(serve.serve)
    cli.add_command(serve.db)
    cli.add_command(admin.users)
    cli.add_command(admin.webhooks)
    cli.add_command(admin.apps)
    cli.add_command(devcert.dev_cert)


@cli.group()
def config() -> None:
    """Settings."""


@config.command("docs")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def config_docs(out: str | None) -> None:
    """Print docs/configuration.md generated from the settings registry."""
    text = render_docs()
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


_register()
