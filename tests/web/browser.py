"""Pages in a real browser: Debian's chromium driven by Playwright (no browser download),
against real `b24tel serve` processes; REST calls as a connector makes them."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.commands import b24tel
from tests.conftest import FIXTURES
from tests.servers import ServeProcess

CHROMIUM = Path(os.environ.get("B24TEL_CHROMIUM", "/usr/bin/chromium"))
# where the screenshots test writes: a temporary directory, unless docs/ui.md's pictures are
# being remade on purpose (python bench/screenshots.py sets it to docs/ui)
SHOTS_ENV = "B24TEL_SCREENSHOTS"
WAV = FIXTURES / "call-8k-mono.wav"
ENV = {
    "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
    "B24TEL_EVENT_POLL_INTERVAL": "0.2",
    "B24TEL_EVENT_RETRY_INITIAL": "0.2",
    "B24TEL_AUTH_CACHE_TTL": "0",
    "B24TEL_TIMEZONE": "UTC",
}


def need_browser() -> None:
    """CI sets B24TEL_REQUIRE_BROWSER, so a missing chromium fails there; elsewhere the
    page tests are skipped with the way to get it."""
    if not CHROMIUM.exists() and not os.environ.get("B24TEL_REQUIRE_BROWSER"):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)")


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = b24tel(data_dir, *args, env={**ENV, **(env or {})})
    assert done.code == 0, done.stdout + done.stderr
    return done.stdout.strip()


class Portal:
    """A running server, its data directory and its webhook."""

    def __init__(self, server: ServeProcess, data: Path, env: dict[str, str] | None = None):
        self.server, self.data, self.env = server, data, env or {}
        self.url, self.hook = server.url, server.hook

    def rest(self, method: str, **params: Any) -> Any:
        answer = httpx.post(self.hook + method, json=params, timeout=30).json()
        assert "error" not in answer, answer
        return answer["result"]

    def login_link(self, user_id: int) -> str:
        return cli(
            self.data,
            "users",
            "login-link",
            "--user",
            str(user_id),
            "--url",
            self.url,
            env=self.env,
        )

    def call(
        self,
        user_id: int,
        number: str,
        *,
        record: bool = True,
        duration: int = 12,
        status: int = 200,
        show: int = 0,
        finish: bool = True,
        **extra: Any,
    ) -> str:
        """Register, finish and record a call as a connector does; its CALL_ID."""
        call_id = self.rest(
            "telephony.externalCall.register",
            USER_ID=user_id,
            PHONE_NUMBER=number,
            TYPE=2,
            SHOW=show,
            **extra,
        )["CALL_ID"]
        if finish:
            self.rest(
                "telephony.externalCall.finish",
                CALL_ID=call_id,
                USER_ID=user_id,
                DURATION=duration,
                STATUS_CODE=status,
            )
        if finish and record:
            content = base64.b64encode(WAV.read_bytes()).decode()
            self.rest(
                "telephony.externalCall.attachRecord",
                CALL_ID=call_id,
                FILENAME="call.wav",
                FILE_CONTENT=content,
            )
        return call_id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
        )
        yield chromium
        chromium.close()


def signed_in(browser: Any, portal: Portal, user_id: int, **options: Any) -> Any:
    """A new browser (context) signed in as the user through a one-time link; its page."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(portal.login_link(user_id))
    assert page.url.rstrip("/") == portal.url, page.url
    return page


def submit(page: Any, target: Any) -> None:
    """Click what loads a new page (a form's button, a link) and wait until that page has
    loaded: a click alone returns once the navigation has started, so the next look may
    find the old page, or a new one with nothing in it yet."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()


def until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
