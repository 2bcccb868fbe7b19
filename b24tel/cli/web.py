"""``b24tel users password`` and ``b24tel users login-link``: how people get into the web
interface (docs/ui.md, "Signing in")."""

from __future__ import annotations

import click

from b24tel.cli.admin import users
from b24tel.cli.base import Ctx, run_db
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.ops import instances
from b24tel.web.sessions import LINK_TTL, MIN_PASSWORD, Sessions, SignInError


@users.command("password")
@click.option("--user", "user_id", type=int, required=True, help="The user's ID.")
@click.password_option(
    "--password",
    prompt="New password",
    help=f"At least {MIN_PASSWORD} characters; asked for (twice) when not given.",
)
@click.pass_obj
def users_password(obj: Ctx, user_id: int, password: str) -> None:
    """Set a user's password for the web interface (signs out the user's browsers)."""

    async def work(db: Database) -> None:
        try:
            await Sessions(db, Clock()).set_password(user_id, password)
        except SignInError as exc:
            raise click.ClickException(str(exc)) from exc

    run_db(obj.settings(), work)
    click.echo(f"password set for user {user_id}")


@users.command("login-link")
@click.option("--user", "user_id", type=int, required=True, help="The user's ID.")
@click.option(
    "--url",
    "base",
    default="",
    help="The server's address as browsers reach it (default: the portal's address, "
    "as `b24tel status` prints it).",
)
@click.pass_obj
def users_login_link(obj: Ctx, user_id: int, base: str) -> None:
    """Print a one-time sign-in link for the web interface."""
    settings = obj.settings()

    async def work(db: Database) -> tuple[str, str]:
        try:
            token = await Sessions(db, Clock()).login_link(user_id)
        except SignInError as exc:
            raise click.ClickException(str(exc)) from exc
        return token, base or await instances.portal_url(db, settings)

    token, address = run_db(settings, work)
    minutes = int(LINK_TTL.total_seconds() // 60)
    click.echo(f"{address.rstrip('/')}/login/link?token={token}")
    click.echo(f"(valid once, for {minutes} minutes)", err=True)
