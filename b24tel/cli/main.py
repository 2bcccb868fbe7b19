"""``b24tel`` command line: serve, status, db, users, webhooks, apps, dev-cert, config.

A command's module is imported when that command runs, not before: every command line
starts a new process, and importing all of them (the app, the bridge, the simulator) took
over a second before ``b24tel users list`` could begin its work."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from b24tel import startup
from b24tel.cli.base import Ctx
from b24tel.cli.config_docs import render_docs

# command → where it is defined, and the modules that add subcommands to it
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serve": ("b24tel.cli.serve:serve", ()),
    "db": ("b24tel.cli.serve:db", ()),
    "status": ("b24tel.cli.status:status", ()),
    "bridge": ("b24tel.cli.bridge:bridge", ()),
    "users": ("b24tel.cli.admin:users", ("b24tel.cli.web",)),
    "webhooks": ("b24tel.cli.admin:webhooks", ("b24tel.cli.events",)),
    "apps": ("b24tel.cli.admin:apps", ("b24tel.cli.events",)),
    "events": ("b24tel.cli.events:events", ()),
    "call": ("b24tel.cli.events:call", ()),
    "requests": ("b24tel.cli.toolkit:requests_group", ()),
    "faults": ("b24tel.cli.toolkit:faults_group", ()),
    "recordings": ("b24tel.cli.recordings:recordings", ()),
    "erase": ("b24tel.cli.erase:erase", ()),
    "backup": ("b24tel.cli.backup:backup", ()),
    "restore": ("b24tel.cli.backup:restore", ()),
    "simulate": ("b24tel.cli.simulate:simulate_command", ()),
    "dev-cert": ("b24tel.cli.devcert:dev_cert", ()),
}


class LazyGroup(click.Group):
    """A group whose commands (``COMMANDS``) are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            with startup.imports():
                self.add_command(load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def load(name: str) -> click.Command:
    """The command ``name``, with what other modules add to it."""
    where, extras = COMMANDS[name]
    module, attribute = where.split(":")
    command: click.Command = getattr(importlib.import_module(module), attribute)
    for extra in extras:
        importlib.import_module(extra)
    if command.name != name:
        raise RuntimeError(f"{where} is the command {command.name!r}, not {name!r}")
    return command


@click.group(cls=LazyGroup)
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
