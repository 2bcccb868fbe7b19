"""`b24tel simulate`: argument handling, the mix, and small runs against a real server."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from b24tel import simulate
from b24tel.app import build_fetcher
from b24tel.cli.main import cli
from b24tel.recordings.models import RecordingFile
from b24tel.simulate import Mix, MixError, wav
from b24tel.telephony.models import Call, Statistic
from tests.compat.conftest import Live


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--url'"),
        (["--url", "ftp://x/"], "--url must be an http(s) webhook URL"),
        (
            ["--url", "http://x/", "--record-size", "100", "--record", __file__],
            "--record-size and --record exclude each other",
        ),
        (["--url", "http://x/", "--mix", "incoming=1,weird=2"], "unknown mix entry 'weird'"),
        (["--url", "http://x/", "--mix", "incoming=x"], "bad weight"),
        (["--url", "http://x/", "--mode", "fax"], "'fax' is not one of"),
        (["--url", "http://x/", "--calls", "0"], "0 is not in the range"),
        (["--url", "http://x/", "--record-size", "10"], "10 is not in the range"),
    ],
)
def test_argument_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_mix() -> None:
    mix = Mix.parse("incoming=3,callback=1;answered=1")
    assert mix.types == {"incoming": 3.0, "callback": 1.0} and mix.outcomes == {"answered": 1.0}
    assert Mix.parse("missed").types  # types fall back to the default mix
    with pytest.raises(MixError):
        Mix.parse("incoming=0;answered=1")
    with pytest.raises(MixError):
        Mix.parse("incoming=-1")
    import random

    rng = random.Random(1)
    assert {Mix.parse("callback;busy").pick(rng) for _ in range(5)} == {(4, "486")}


def test_wav_generator_is_a_valid_recording(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from b24tel.recordings.audio import inspect

    path = tmp_path / "x.wav"
    path.write_bytes(wav(100_000))
    info = inspect(path)
    assert (info.codec, info.sample_rate, path.stat().st_size) == ("pcm_s16le", 8000, 100_000)


def counts(live: Live) -> tuple[int, int, int, int]:
    async def work(session) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
        calls = (await session.execute(select(func.count(Call.id)))).scalar_one()
        stats = (await session.execute(select(func.count(Statistic.id)))).scalar_one()
        answered = (
            await session.execute(
                select(func.count(Statistic.id)).where(Statistic.call_failed_code == "200")
            )
        ).scalar_one()
        files = (await session.execute(select(func.count(RecordingFile.id)))).scalar_one()
        return calls, stats, answered, files

    return live.run_db(work)


@pytest.mark.parametrize("mode", ["content", "upload", "url"])
def test_small_run(live: Live, mode: str) -> None:
    services = live.http.app.state.services
    services.fetcher = build_fetcher(services.settings.replace(record_url_allowlist="127.0.0.1/32"))
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--url",
            live.hook_http,
            "--calls",
            "20",
            "--concurrency",
            "4",
            "--mode",
            mode,
            "--record-size",
            "20000",
            "--seed",
            "7",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["calls"] == summary["completed"] == 20 and summary["errors"] == {}
    methods = summary["methods"]
    assert methods["telephony.externalCall.register"]["count"] == 20
    assert methods["telephony.externalCall.finish"]["count"] == 20
    assert methods["telephony.externalCall.show"]["count"] == 20
    for name in ("p50_ms", "p90_ms", "p99_ms"):
        assert methods["telephony.externalCall.register"][name] > 0
    calls, stats, answered, files = counts(live)
    assert calls == stats == 20  # every registered call was finished
    assert 0 < answered < 20 and files == answered  # the default mix answers ~70 %
    attach_count = methods["telephony.externalCall.attachRecord"]["count"]
    assert attach_count == answered
    if mode == "upload":
        assert methods["upload"]["count"] == answered


def test_table_output(live: Live) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--url",
            live.hook_http,
            "--calls",
            "3",
            "--no-record",
            "--no-show-hide",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 of 3 calls" in result.output and "telephony.externalCall.register" in result.output
    assert "no errors" in result.output


async def test_a_url_that_never_answers_stops_the_run_at_once() -> None:
    """A wrong URL whose server accepts and never answers kept `simulate` running for its
    whole --timeout (60 s); the set-up request has a short one of its own."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = simulate.Config(url=f"http://127.0.0.1:{port}/rest/1/x/", calls=3,
                                 setup_timeout=0.5)  # fmt: skip
        with pytest.raises(simulate.RequestFailed, match="ReadTimeout"):
            # a bound that only a hang reaches: the run ends after the 0.5 s set-up wait
            await asyncio.wait_for(simulate.Simulator(config).run(), 20)
