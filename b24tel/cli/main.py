"""``b24tel`` command line: serve, status, db, users, webhooks, apps, dev-cert, config."""

from __future__ import annotations

from pathlib import Path

import click

from b24tel.cli import admin, backup, devcert, erase, recordings, serve, status, toolkit, web  # noqa: F401 (web adds to users)
from b24tel.cli import bridge as bridge_commands
from b24tel.cli import events as event_commands
from b24tel.cli.base import Ctx
from b24tel.cli.config_docs import render_docs
from b24tel.cli.simulate import simulate_command


@click.group()
@click.version_option(package_name="b24tel", prog_name="b24tel")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML settings file.")
@click.option(
    "--data-dir", "data_dir", help="Data directory of the server (default ./b24tel-data)."
)
@click.pass_context
def cli(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """b24tel — a server that speaks Bitrix24's REST protocol for external telephony."""
    ctx.obj = Ctx(config, data_dir)


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


for command in (
    serve.serve,
    serve.db,
    status.status,
    bridge_commands.bridge,
    admin.users,
    admin.webhooks,
    admin.apps,
    event_commands.events,
    event_commands.call,
    toolkit.requests_group,
    toolkit.faults_group,
    recordings.recordings,
    erase.erase,
    backup.backup,
    backup.restore,
    simulate_command,
    devcert.dev_cert,
):
    cli.add_command(command)
