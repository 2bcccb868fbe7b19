"""The fuzz suite through a bridge: whatever a connector sends to the telephony methods,
``batch`` and the statistics — in every encoding — the bridge passes it on or keeps it and
never answers a 5xx of its own, never breaks the envelope, never logs an unexpected error.
The portal is a second b24tel (a real process), which the main fuzz suite holds to the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from b24tel.clock import Clock
from b24tel.config import Settings
from tests.bridge.test_passthrough import portal
from tests.conftest import Harness, make_harness
from tests.fuzz import strategies
from tests.fuzz.strategies import METHODS, Case, World
from tests.fuzz.test_fuzz import EXAMPLES, Errors, _seed, _send
from tests.fuzz.test_fuzz import test_fuzz_pages as fuzz_pages
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

# what a connector sends a bridge (the rest passes on the same way, unread)
BRIDGED = [m for m in METHODS if m.startswith(("telephony.", "voximplant.")) or m == "batch"]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with portal(tmp_path_factory.mktemp("fuzz"), "upstream") as server:
        yield server


@pytest.fixture
def bridge_env(
    settings: Settings, clock: Clock, upstream: ServeProcess, tmp_path: Path
) -> Iterator[tuple[asyncio.Runner, Harness, World]]:
    runner = asyncio.Runner()
    tuned = settings.replace(max_unauthenticated_body=1024 * 1024, upstream_url=upstream.hook,
                             upstream_allow_http=True, upstream_timeout=5.0)  # fmt: skip
    context = make_harness(tuned, clock)
    harness = runner.run(context.__aenter__())
    world = runner.run(_seed(harness))  # through the bridge: the portal has them
    try:
        yield runner, harness, world
    finally:
        runner.run(harness.services.background.join(timeout=10))
        runner.run(context.__aexit__(None, None, None))
        runner.close()


@pytest.mark.parametrize("method", BRIDGED)
def test_fuzz_through_the_bridge(
    bridge_env: tuple[asyncio.Runner, Harness, World], method: str
) -> None:
    runner, harness, world = bridge_env
    errors = Errors()
    logging.getLogger().addHandler(errors)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 12,
              database=None, suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategies.cases(method, world))
    def check(case: Case) -> None:
        request, status, ctype, body = runner.run(_send(harness, case, world))
        found = strategies.problems(status, ctype, body)
        logged = [r.getMessage() for r in errors.records]
        errors.records.clear()
        assert not found and not logged, (request, found, logged)

    try:
        check()
    finally:
        logging.getLogger().removeHandler(errors)


@pytest.mark.parametrize("path", ["/admin/bridge", "/admin/bridge/{junk}/{junk}",
                                  "/admin/bridge/1/retry", "/calls/{call}"])  # fmt: skip
def test_fuzz_the_bridge_pages(
    bridge_env: tuple[asyncio.Runner, Harness, World], path: str
) -> None:
    """The Bridge page, its actions and a bridged call's page, as the page fuzzing does."""
    fuzz_pages(bridge_env, path)
