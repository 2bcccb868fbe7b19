"""The quick run (`python -m pytest -m "not slow"`, README "Development") leaves out every
test module that starts a b24tel process: such a module says so with ``pytestmark``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# a server process (tests/servers.ServeProcess, the page tests' Portal) or a command run as
# `python -m b24tel …`
STARTS_PROCESS = re.compile(r'ServeProcess|Portal\(|"-m",\s*"b24tel"')
MARKED = re.compile(r"^pytestmark = pytest\.mark\.slow$", re.M)


def test_every_module_that_starts_b24tel_processes_is_marked_slow() -> None:
    modules = sorted(TESTS.rglob("test_*.py"))
    starting = [
        p
        for p in modules
        if p.name != Path(__file__).name and STARTS_PROCESS.search(p.read_text("utf-8"))
    ]
    assert len(starting) >= 30  # the scan finds what it should
    unmarked = [
        str(p.relative_to(TESTS)) for p in starting if not MARKED.search(p.read_text("utf-8"))
    ]
    assert unmarked == []


def browser_tests(session: pytest.Session) -> list[str]:
    """The page and bridge tests marked ``browser``: from this run's own collection when it
    holds them (a whole run: every worker collects every test), else collected apart."""
    pages = ("tests/web/", "tests/bridge/")
    every = [i for i in session.items if i.nodeid.startswith(pages)]
    if len({i.nodeid.split("::", 1)[0] for i in every}) >= 10:
        return [i.nodeid for i in every if i.get_closest_marker("browser")]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
         "-p", "no:cacheprovider", "-m", "browser", str(TESTS / "web"), str(TESTS / "bridge")],
        capture_output=True, text=True, timeout=120, cwd=TESTS.parent, check=False,
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_tests_that_drive_chromium_are_marked_browser(request: pytest.FixtureRequest) -> None:
    selected = browser_tests(request.session)
    assert len(selected) >= 20, selected
    for node in selected:
        source = (TESTS.parent / node.split("::", 1)[0]).read_text("utf-8")
        assert "(browser" in source or "browser: Any" in source, node
