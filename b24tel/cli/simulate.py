"""``b24tel simulate``: drive an endpoint with realistic call traffic and report."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from b24tel import masking, simulate
from b24tel.simulate import DEFAULT_MIX, MODES, Config, Mix, MixError


@click.command("simulate")
@click.option("--url", required=True, help="Webhook URL, e.g. http://127.0.0.1:8080/rest/1/CODE/")
@click.option(
    "--calls", default=100, show_default=True, type=click.IntRange(1), help="Calls to make."
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Calls in flight at once.",
)
@click.option("--record-size", type=click.IntRange(46), help="Generate a WAV of this many bytes.")
@click.option(
    "--record",
    "record_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Attach this WAV/MP3 file to answered calls.",
)
@click.option("--no-record", is_flag=True, help="Attach nothing.")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="content",
    show_default=True,
    help="How recordings are attached; url serves them from a local HTTP server.",
)
@click.option(
    "--mix",
    default=DEFAULT_MIX,
    show_default=True,
    help="Weights of call types and outcomes: types;outcomes.",
)
@click.option("--seed", type=int, help="Random seed, for repeatable runs.")
@click.option("--no-show-hide", is_flag=True, help="Skip the show/hide calls.")
@click.option(
    "--serve-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the url-mode recording server listens on (must be reachable from the endpoint).",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False),
    help="CA certificate to trust for an https endpoint.",
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def simulate_command(
    url: str,
    calls: int,
    concurrency: int,
    record_size: int | None,
    record_file: str | None,
    no_record: bool,
    mode: str,
    mix: str,
    seed: int | None,
    no_show_hide: bool,
    serve_host: str,
    cacert: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Simulate calls against a Bitrix24-compatible endpoint (ours or a real portal)."""
    if record_size is not None and record_file is not None:
        raise click.UsageError("--record-size and --record exclude each other")
    if not url.startswith(("http://", "https://")):
        raise click.UsageError("--url must be an http(s) webhook URL")
    try:
        parsed_mix = Mix.parse(mix)
    except MixError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from exc
    record, name = None, "call.wav"
    if record_file:
        record, name = Path(record_file).read_bytes(), Path(record_file).name
    elif not no_record:
        record = simulate.wav(record_size or 100_000)
    config = Config(
        url=url.rstrip("/") + "/",
        calls=calls,
        concurrency=concurrency,
        record=record,
        record_name=name,
        mode=mode,
        mix=parsed_mix,
        seed=seed,
        show_hide=not no_show_hide,
        timeout=timeout,
        verify=_verify(cacert),
        serve_host=serve_host,
    )
    sim = simulate.Simulator(config)
    try:
        report = _run(sim, calls, quiet=as_json or not sys.stderr.isatty())
    except simulate.RequestFailed as exc:
        # the set-up request (user.get) did not get an answer from a Bitrix24 endpoint
        raise click.ClickException(
            f"{masking.shown_url(config.url)} does not answer as a Bitrix24 webhook URL "
            f"(user.get: {exc.code}); check --url"
        ) from exc
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print(summary)
    if summary["failed"]:
        sys.exit(1)


def _run(sim: simulate.Simulator, calls: int, *, quiet: bool) -> simulate.Report:
    if quiet:
        return asyncio.run(sim.run())
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("calls", total=calls)
        return asyncio.run(sim.run(lambda: progress.advance(task)))


def _verify(cacert: str | None) -> Any:  # True, or an SSLContext trusting the CA file
    if not cacert:
        return True
    import ssl

    return ssl.create_default_context(cafile=cacert)


def _print(summary: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"{summary['completed']} of {summary['calls']} calls in "
        f"{summary['seconds']:.2f} s: {summary['calls_per_second']} calls/s, "
        f"{summary['requests_per_second']} requests/s"
    )
    table = Table("method", "requests", "p50 ms", "p90 ms", "p99 ms")
    for method, m in summary["methods"].items():
        table.add_row(
            method,
            str(m["count"]),
            f"{m['p50_ms']:.1f}",
            f"{m['p90_ms']:.1f}",
            f"{m['p99_ms']:.1f}",
        )
    console.print(table)
    if summary["errors"]:
        errors = Table("error", "count")
        for code, count in summary["errors"].items():
            errors.add_row(code, str(count))
        console.print(errors)
    else:
        console.print("no errors")
