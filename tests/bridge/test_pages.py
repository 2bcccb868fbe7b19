"""Bridge mode, seen in a real browser: the Bridge page (queue, the portal's figures, retry
and skip), a bridged call's page (its copy, the portal's CRM page, each write's fate), and
what a person tries — the page as a user who is no administrator, a phone screen."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bridge.test_passthrough import FIXTURES, PORTAL_ENV, portal
from tests.servers import ServeProcess
from tests.web.browser import ENV, Portal, browser, cli, signed_in

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

__all__ = ["browser"]

WAV = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes()).decode()


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[tuple[Portal, ServeProcess]]:
    """A portal (a second b24tel) and a bridge in front of it, both real processes."""
    with portal(tmp_path, "upstream") as upstream:
        env = {**ENV, "B24TEL_UPSTREAM_URL": upstream.hook, "B24TEL_UPSTREAM_ALLOW_HTTP": "true",
               "B24TEL_UPSTREAM_TIMEOUT": "2", "B24TEL_BRIDGE_CARD_MAX_AGE": "600"}  # fmt: skip
        with ServeProcess(tmp_path / "bridge", env=env) as server:
            yield Portal(server, tmp_path / "bridge", env), upstream


def rest(base: str, method: str, **params: Any) -> Any:
    answer = httpx.post(base + method, json=params, timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]


def test_a_bridged_call_and_the_bridge_page(
    browser: Any, bridged: tuple[Portal, ServeProcess]
) -> None:
    bridge, upstream = bridged
    contact = {"NAME": "Vera", "PHONE": [{"VALUE": "+79160001234"}]}
    rest(upstream.hook, "crm.contact.add", fields=contact)
    call_id = rest(bridge.hook, "telephony.externalCall.register", USER_ID=1,
                   PHONE_NUMBER="+79160001234", TYPE=2, SHOW=0)["CALL_ID"]  # fmt: skip
    rest(bridge.hook, "telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1, DURATION=30)
    for n in range(2):
        rest(bridge.hook, "telephony.externalCall.attachRecord", CALL_ID=call_id,
             FILENAME=f"take{n}.wav", FILE_CONTENT=WAV)  # fmt: skip
    contact_id = rest(upstream.hook, "crm.contact.list", select=["ID"])[0]["ID"]
    # the portal goes away: the next call waits here
    upstream.stop()
    waiting = rest(bridge.hook, "telephony.externalCall.register", USER_ID=1,
                   PHONE_NUMBER="+79160005555", TYPE=2, SHOW=0)["CALL_ID"]  # fmt: skip
    rest(bridge.hook, "telephony.externalCall.finish", CALL_ID=waiting, USER_ID=1, DURATION=3)

    page = signed_in(browser, bridge, 1)
    page.goto(f"{bridge.url}/calls/{call_id}")
    text = page.inner_text("main")
    assert "Earlier versions" in text and "take0.wav" in text  # both versions kept here
    link = page.locator("h2#crm + p a")
    assert link.get_attribute("href") == (
        upstream.hook.split("/rest/")[0] + f"/crm/contact/details/{contact_id}/"
    )
    assert "activity" in text and "in the portal" in text
    ops = page.inner_text("section[aria-labelledby=br]")
    assert ops.count("forwarded") == 4 and "waiting" not in ops  # register, finish, 2 records

    page.goto(f"{bridge.url}/admin/bridge")
    text = page.inner_text("main")
    assert re.search(r"Waiting\s+2", text), text
    assert "***" in text and upstream.hook.rstrip("/").rsplit("/", 1)[1] not in page.content()
    assert "calls in 5 min" in text and "p50" in text
    assert page.locator("text=telephony.externalcall.finish").count() == 1
    finish_row = page.locator("tr", has_text="telephony.externalcall.finish")
    finish_row.get_by_role("button", name="Skip").click()
    page.wait_for_url(f"{bridge.url}/admin/bridge")
    assert re.search(r"Failed\s+1", page.inner_text("main"))
    page.goto(f"{bridge.url}/calls/{waiting}")
    ops = page.inner_text("section[aria-labelledby=br]")
    assert "waiting" in ops and "skipped by an operator" in ops
    # a phone screen: the queue's table scrolls inside its box, the page does not
    phone = signed_in(browser, bridge, 1, viewport={"width": 390, "height": 800})
    phone.goto(f"{bridge.url}/admin/bridge")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_bridge_page_is_for_administrators_of_a_bridge(
    browser: Any, bridged: tuple[Portal, ServeProcess], tmp_path: Path
) -> None:
    bridge, _ = bridged
    cli(bridge.data, "users", "add", "--name", "Olga", "--inner-number", "102", env=bridge.env)
    page = signed_in(browser, bridge, 2)
    page.goto(f"{bridge.url}/admin/bridge")
    assert "Only administrators" in page.inner_text("main")
    assert page.locator("nav >> text=Bridge").count() == 0
    admin = signed_in(browser, bridge, 1)
    assert admin.locator("nav >> text=Bridge").count() == 1
    # a server that is the portal has no Bridge page
    with ServeProcess(tmp_path / "alone", env=PORTAL_ENV) as alone:
        me = signed_in(browser, Portal(alone, tmp_path / "alone"), 1)
        me.goto(f"{alone.url}/admin/bridge")
        assert "no bridge here" in me.inner_text("main")
        assert me.locator("nav >> text=Bridge").count() == 0
