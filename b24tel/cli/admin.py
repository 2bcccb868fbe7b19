"""Admin commands: users, webhooks, applications and tokens."""

from __future__ import annotations

from typing import Any

import click

from b24tel.cli.base import Ctx, run_db, webhook_url
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.errors import ApiError
from b24tel.identity import ALL_SCOPES, parse_scopes
from b24tel.ops import instances
from b24tel.users import repository as repo
from b24tel.users import service, tokens


def _scopes(text: str) -> frozenset[str]:
    try:
        return parse_scopes(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _fail(exc: ValueError) -> click.ClickException:
    return click.ClickException(str(exc))


# --- users ----------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Portal users (employees) and their inner numbers."""


@users.command("add")
@click.option("--name", required=True, help="First name (NAME).")
@click.option("--last-name", default="", help="Last name (LAST_NAME).")
@click.option("--email", default="", help="E-mail address (EMAIL).")
@click.option(
    "--inner-number",
    default=None,
    help="Extension (UF_PHONE_INNER); no other active user may have it.",
)
@click.option("--work-phone", default="", help="WORK_PHONE.")
@click.option("--mobile", default="", help="PERSONAL_MOBILE.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--inactive", is_flag=True, help="Create the user deactivated.")
@click.pass_obj
def users_add(obj: Ctx, /, **opts: Any) -> None:
    """Add a user; prints its ID."""

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            try:
                user = await service.create_user(
                    s,
                    Clock().now(),
                    name=opts["name"],
                    last_name=opts["last_name"],
                    email=opts["email"],
                    inner_number=opts["inner_number"],
                    admin=opts["admin"],
                    work_phone=opts["work_phone"],
                    personal_mobile=opts["mobile"],
                    active=not opts["inactive"],
                )
            except ValueError as exc:
                raise _fail(exc) from exc
            return user.id

    click.echo(run_db(obj.settings(), work))


@users.command("update")
@click.argument("user_id", type=int)
@click.option("--name", default=None, help="First name (NAME).")
@click.option("--last-name", default=None, help="Last name (LAST_NAME).")
@click.option("--email", default=None, help="E-mail address (EMAIL).")
@click.option(
    "--inner-number",
    default=None,
    help="Extension (UF_PHONE_INNER); an empty value takes it away.",
)
@click.option("--work-phone", default=None, help="WORK_PHONE.")
@click.option("--mobile", default=None, help="PERSONAL_MOBILE.")
@click.option("--admin/--no-admin", default=None, help="Make or unmake an administrator.")
@click.pass_obj
def users_update(obj: Ctx, /, user_id: int, **opts: Any) -> None:
    """Change a user's fields; the ones not given stay as they are."""
    fields = service.UserFields(
        name=opts["name"], last_name=opts["last_name"], email=opts["email"],
        inner_number=opts["inner_number"], work_phone=opts["work_phone"],
        personal_mobile=opts["mobile"], admin=opts["admin"],
    )  # fmt: skip
    _change_user(obj, user_id, fields)
    click.echo("updated")


@users.command("deactivate")
@click.argument("user_id", type=int)
@click.pass_obj
def users_deactivate(obj: Ctx, user_id: int) -> None:
    """Dismiss a user: they can no longer sign in, use their webhooks and tokens, or take
    new calls; their calls and recordings stay theirs, and their extension is free."""
    _change_user(obj, user_id, service.UserFields(active=False))
    click.echo("deactivated")


@users.command("activate")
@click.argument("user_id", type=int)
@click.pass_obj
def users_activate(obj: Ctx, user_id: int) -> None:
    """Take a user back (refused while another active user has their extension)."""
    _change_user(obj, user_id, service.UserFields(active=True))
    click.echo("activated")


def _change_user(obj: Ctx, user_id: int, fields: service.UserFields) -> None:
    async def work(db: Database) -> None:
        async with db.transaction() as s:
            try:
                await service.update_user(s, user_id, fields)
            except (LookupError, ValueError) as exc:
                raise click.ClickException(str(exc)) from exc

    run_db(obj.settings(), work)


@users.command("list")
@click.pass_obj
def users_list(obj: Ctx) -> None:
    """List users."""

    async def work(db: Database) -> list[Any]:
        async with db.transaction(readonly=True) as s:
            return list(await repo.list_users(s))

    click.echo("ID\tACTIVE\tADMIN\tINNER\tNAME")
    for u in run_db(obj.settings(), work):
        name = f"{u.name} {u.last_name}".strip()
        click.echo(
            f"{u.id}\t{'Y' if u.active else 'N'}\t{'Y' if u.admin else 'N'}\t"
            f"{u.uf_phone_inner or ''}\t{name}"
        )


# --- webhooks -------------------------------------------------------------------------------


@click.group()
def webhooks() -> None:
    """Incoming webhooks."""


@webhooks.command("create")
@click.option("--user", "user_id", required=True, type=int, help="Owner user ID.")
@click.option(
    "--scope",
    "scopes",
    default=",".join(ALL_SCOPES),
    show_default=True,
    help="Comma-separated scopes.",
)
@click.option("--code", default=None, help="Secret code (random when omitted).")
@click.option("--title", default="", help="A note on what the webhook is for.")
@click.pass_obj
def webhooks_create(obj: Ctx, user_id: int, scopes: str, code: str | None, title: str) -> None:
    """Create a webhook; prints its URL (the code is shown only now)."""
    settings = obj.settings()

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            try:
                _, secret = await service.create_webhook(
                    s,
                    Clock().now(),
                    user_id=user_id,
                    scopes=_scopes(scopes),
                    code=code,
                    title=title,
                )
            except ValueError as exc:
                raise _fail(exc) from exc
        return webhook_url(await instances.portal_url(db, settings), user_id, secret)

    click.echo(run_db(settings, work))


@webhooks.command("list")
@click.pass_obj
def webhooks_list(obj: Ctx) -> None:
    """List webhooks (codes are stored hashed and cannot be shown)."""

    async def work(db: Database) -> list[Any]:
        async with db.transaction(readonly=True) as s:
            return list(await repo.list_webhooks(s))

    click.echo("ID\tUSER\tSTATE\tSCOPES\tTITLE")
    for h in run_db(obj.settings(), work):
        state = "revoked" if h.revoked_at else "active"
        click.echo(f"{h.id}\t{h.user_id}\t{state}\t{h.scopes}\t{h.title}")


@webhooks.command("revoke")
@click.argument("webhook_id", type=int)
@click.pass_obj
def webhooks_revoke(obj: Ctx, webhook_id: int) -> None:
    """Revoke a webhook by ID."""

    async def work(db: Database) -> bool:
        async with db.transaction() as s:
            return await repo.revoke_webhook(s, webhook_id, Clock().now())

    if not run_db(obj.settings(), work):
        raise click.ClickException(f"no active webhook with ID {webhook_id}")
    click.echo(f"webhook {webhook_id} revoked")


# --- applications ---------------------------------------------------------------------------


@click.group()
def apps() -> None:
    """OAuth local applications."""


@apps.command("create")
@click.option("--name", required=True, help="Application name (REST_APP_NAME of its calls).")
@click.option(
    "--scope",
    "scopes",
    default=",".join(ALL_SCOPES),
    show_default=True,
    help="Comma-separated scopes.",
)
@click.option(
    "--handler-url",
    default="",
    help="Where ONAPPINSTALL/ONAPPUNINSTALL go. With it the application waits for "
    "`b24tel apps install`; without it, it is installed at once.",
)
@click.pass_obj
def apps_create(obj: Ctx, name: str, scopes: str, handler_url: str) -> None:
    """Create a local application; prints its ID, client id and secret."""
    settings = obj.settings()

    async def work(db: Database) -> tuple[int, str, str]:
        if handler_url:
            # loaded only here: event delivery's HTTP stack was 150 ms of every `users` and
            # `apps` command's start
            from b24tel.events.subscriptions import check_handler

            try:
                await check_handler(handler_url, settings.event_handler_allowlist)
            except ApiError as exc:
                raise click.ClickException(exc.description) from exc
        async with db.transaction() as s:
            app, secret = await tokens.create_app(
                s, Clock().now(), name=name, scopes=_scopes(scopes), handler_url=handler_url
            )
            return app.id, app.client_id, secret

    app_id, client_id, secret = run_db(settings, work)
    click.echo(f"app_id: {app_id}\nclient_id: {client_id}\nclient_secret: {secret}")


@apps.command("list")
@click.pass_obj
def apps_list(obj: Ctx) -> None:
    """List applications."""

    async def work(db: Database) -> list[Any]:
        async with db.transaction(readonly=True) as s:
            return list(await repo.list_apps(s))

    click.echo("ID\tCLIENT_ID\tSCOPES\tNAME")
    for a in run_db(obj.settings(), work):
        click.echo(f"{a.id}\t{a.client_id}\t{a.scopes}\t{a.name}")


async def _app(db: Database, app_id: int) -> Any:
    async with db.transaction(readonly=True) as s:
        app = await repo.get_app(s, app_id)
    if app is None:
        raise click.ClickException(f"no application with ID {app_id}")
    return app


@apps.command("token")
@click.option("--app", "app_id", required=True, type=int, help="Application ID.")
@click.option("--user", "user_id", required=True, type=int, help="User the tokens act as.")
@click.pass_obj
def apps_token(obj: Ctx, app_id: int, user_id: int) -> None:
    """Issue an access/refresh pair for a user (local apps without a browser install)."""
    settings = obj.settings()

    async def work(db: Database) -> tokens.TokenPair:
        app = await _app(db, app_id)
        async with db.transaction() as s:
            try:
                return await tokens.issue_tokens(
                    s,
                    Clock().now(),
                    app,
                    user_id,
                    access_ttl=settings.access_token_ttl,
                    refresh_ttl=settings.refresh_token_ttl,
                )
            except ValueError as exc:
                raise _fail(exc) from exc

    pair = run_db(settings, work)
    click.echo(
        f"access_token: {pair.access_token}\nrefresh_token: {pair.refresh_token}\n"
        f"expires_in: {pair.expires_in}"
    )


@apps.command("code")
@click.option("--app", "app_id", required=True, type=int, help="Application ID.")
@click.option("--user", "user_id", required=True, type=int, help="User the code is for.")
@click.option("--ttl", default=600, show_default=True, help="Seconds the code stays valid.")
@click.pass_obj
def apps_code(obj: Ctx, app_id: int, user_id: int, ttl: int) -> None:
    """Issue a one-time authorization code for `grant_type=authorization_code`."""

    async def work(db: Database) -> str:
        app = await _app(db, app_id)
        async with db.transaction() as s:
            return await tokens.issue_code(s, Clock().now(), app, user_id, ttl)

    click.echo(run_db(obj.settings(), work))
