"""The integrators' toolkit on the command line: the request journal (`b24tel requests`) and
fault rules (`b24tel faults`) — docs/integrators.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import click

from b24tel.cli.base import Ctx, run_services
from b24tel.faults import service as fault_rules
from b24tel.faults.rules import RuleError, describe
from b24tel.journal import queries
from b24tel.journal import replay as replaying
from b24tel.rest.envelope import encode_json
from b24tel.services import Services


@click.group("requests")
def requests_group() -> None:
    """The request journal: what clients sent and what they got back."""


def _filter_options(command: Any) -> Any:
    for option in reversed([
        click.option("--method", default="", help="Method name or glob (telephony.*)."),
        click.option("--caller", default="", help="webhook:ID, app:ID or user:ID."),
        click.option("--status", default="", help="ok, error, an HTTP status or an error code."),
        click.option("--since", default="", help="Only the last 10m, 2h, 1d…"),
        click.option("--kind", default="", help="method, batch, subcall, upload, download, "
                     "token or event."),
    ]):  # fmt: skip
        command = option(command)
    return command


@requests_group.command("list")
@_filter_options
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, in full.")
@click.pass_obj
def requests_list(obj: Ctx, /, as_json: bool, **filters: Any) -> None:
    """List journal entries, newest first."""
    try:
        wanted = queries.Filter(**filters)

        async def work(services: Services) -> list[Any]:
            async with services.db.transaction(readonly=True) as s:
                return await queries.entries(s, wanted, services.clock.now())

        rows = run_services(obj.settings(), work)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for row in rows:
            click.echo(json.dumps(queries.as_dict(row), ensure_ascii=False))
        return
    click.echo(queries.HEADER)
    for row in rows:
        click.echo(queries.line(row))


@requests_group.command("show")
@click.argument("entry_id", type=int)
@click.option("--curl", "as_curl", is_flag=True, help="A curl command that sends it again.")
@click.pass_obj
def requests_show(obj: Ctx, entry_id: int, as_curl: bool) -> None:
    """One entry in full: params and answer."""
    settings = obj.settings()

    async def work(services: Services) -> tuple[Any, str]:
        async with services.db.transaction(readonly=True) as s:
            return await queries.entry(s, entry_id), services.address

    row, address = run_services(settings, work)
    if row is None:
        raise click.ClickException(f"no journal entry with ID {entry_id}")
    if as_curl:
        click.echo(queries.curl(row, address))
        return
    click.echo(json.dumps(queries.as_dict(row), ensure_ascii=False, indent=2))


@requests_group.command("replay")
@click.argument("entry_id", type=int)
@click.pass_obj
def requests_replay(obj: Ctx, entry_id: int) -> None:
    """Send a method or batch request again as the same caller, with its current
    credentials; prints the answer. The replay is journaled too."""

    async def work(services: Services) -> replaying.Replayed:
        async with services.db.transaction(readonly=True) as s:
            row = await queries.entry(s, entry_id)
        if row is None:
            raise click.ClickException(f"no journal entry with ID {entry_id}")
        await services.journal.start()
        try:
            return await replaying.replay(services, row)
        except replaying.NotReplayable as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            await services.journal.stop()

    done = run_services(obj.settings(), work)
    click.echo(f"HTTP {done.status} as {done.caller}", err=True)
    # as the wire would carry it (dates and numbers rendered the protocol's way)
    click.echo(json.dumps(json.loads(encode_json(done.body)), ensure_ascii=False, indent=2))


@requests_group.command("tail")
@_filter_options
@click.option("--count", default=0, help="Stop after this many entries (0: until CTRL+C).")
@click.pass_obj
def requests_tail(obj: Ctx, /, count: int, **filters: Any) -> None:
    """Follow new entries as they are written."""
    wanted = queries.Filter(**filters, limit=1)

    async def work(services: Services) -> None:
        async with services.db.transaction(readonly=True) as s:
            newest = await queries.entries(s, wanted, services.clock.now())
        last, shown = (newest[0].id if newest else 0), 0
        click.echo(queries.HEADER)
        while not count or shown < count:
            follow = queries.Filter(**filters, after_id=last, limit=500)
            async with services.db.transaction(readonly=True) as s:
                rows = await queries.entries(s, follow, services.clock.now())
            for row in rows[: (count - shown) if count else None]:
                click.echo(queries.line(row))
                last, shown = row.id, shown + 1
            if not rows:
                await asyncio.sleep(0.5)

    with contextlib.suppress(KeyboardInterrupt):
        run_services(obj.settings(), work)


# --- faults ---------------------------------------------------------------------------------


@click.group("faults")
def faults_group() -> None:
    """Fault rules: make the portal misbehave on purpose."""


@faults_group.command("add")
@click.option("--method", default="*", show_default=True, help="Method name or glob.")
@click.option("--caller", default="", help="Only for webhook:ID, app:ID or user:ID.")
@click.option("--kind", default="", help="Only method, batch, upload, download, token or event.")
@click.option("--param", default="", help="Only when a parameter has a value: NAME=VALUE.")
@click.option("--error", default=None, help="Answer this error (QUERY_LIMIT_EXCEEDED…).")
@click.option("--status", default=None, type=int, help="HTTP status of --error.")
@click.option("--description", default=None, help="error_description of --error.")
@click.option("--proxy", default=None, type=int, help="A load balancer's HTML page: 502 or 504.")
@click.option("--latency", default=None, help="Delay in ms, or a range: 200-800.")
@click.option("--drop", is_flag=True, help="Close the connection without an answer.")
@click.option("--truncate", is_flag=True, help="Send half of the answer, then close.")
@click.option("--non-json", is_flag=True, help="Answer 200 with an HTML page.")
@click.option("--delay-event", default=None, help="Hold event deliveries back (ms or 5s).")
@click.option("--duplicate-event", is_flag=True, help="Deliver events twice.")
@click.option("--times", default=None, type=int, help="Only the next N matches.")
@click.option("--after", default=0, type=int, help="Only after the first N matches.")
@click.option("--probability", default=None, type=float, help="Fire with this probability.")
@click.option("--seed", default=None, type=int, help="Seed for --probability (repeatable runs).")
@click.option("--for", "for_", default=None, help="Only for this long from now (10m, 1h).")
@click.pass_obj
def faults_add(obj: Ctx, /, **opts: Any) -> None:
    """Add a rule; prints its ID. Running servers apply it within a second."""
    data = {("for" if k == "for_" else k): v for k, v in opts.items()}
    data = {k: v for k, v in data.items() if v not in (None, False, "")}

    async def work(services: Services) -> int:
        async with services.db.transaction() as s:
            rule = await fault_rules.add(s, data, services.clock.now(), "cli")
            return rule.id

    try:
        click.echo(run_services(obj.settings(), work))
    except RuleError as exc:
        raise click.ClickException(str(exc)) from exc


@faults_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def faults_list(obj: Ctx, as_json: bool) -> None:
    """List rules, with how often each matched and fired."""

    async def work(services: Services) -> list[dict[str, Any]]:
        async with services.db.transaction(readonly=True) as s:
            return [describe(r) for r in await fault_rules.rules(s)]

    rules = run_services(obj.settings(), work)
    if as_json:
        for rule in rules:
            click.echo(json.dumps(rule))
        return
    click.echo("ID\tMATCH\tEFFECT\tWHEN\tMATCHED\tFIRED")
    for r in rules:
        match = " ".join(x for x in (r["method"], r["kind"], r["caller"], r["param"]) if x)
        effect = r["effect"] + (f" {r['code']} {r['status']}" if r["code"] else "")
        click.echo(f"{r['id']}\t{match}\t{effect}\t{r['when']}\t{r['matched']}\t{r['fired']}")


@faults_group.command("remove")
@click.argument("rule_id", type=int, required=False)
@click.option("--all", "everything", is_flag=True, help="Remove every rule.")
@click.pass_obj
def faults_remove(obj: Ctx, rule_id: int | None, everything: bool) -> None:
    """Remove a rule by ID, or --all."""
    if (rule_id is None) == (not everything):
        raise click.UsageError("give a rule ID or --all")

    async def work(services: Services) -> int:
        async with services.db.transaction() as s:
            return await fault_rules.remove(s, None if everything else rule_id)

    removed = run_services(obj.settings(), work)
    if rule_id is not None and not removed:
        raise click.ClickException(f"no fault rule with ID {rule_id}")
    click.echo(f"{removed} rule(s) removed")
