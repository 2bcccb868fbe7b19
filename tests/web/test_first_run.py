"""The dashboard of a portal without calls shows an administrator how to connect a PBX: a
webhook made on the spot, the connectors guide, a test call with a real recording (through
the real app, on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.conftest import Harness
from tests.helpers import ok
from tests.web.test_pages import sign_in


async def test_an_empty_portal_shows_the_first_steps(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    page = await harness.client.get("/")
    assert "Connect your PBX" in page.text and "docs/connectors.md" in page.text
    made = await harness.client.post("/", data={"csrf": csrf, "action": "webhook"})
    assert made.status_code == 200
    shown = re.search(r'value="(http[^"]+/rest/1/[0-9a-f]+/)"', made.text)
    assert shown, made.text[-2000:]
    answer = await harness.client.get(urlsplit(shown.group(1)).path + "server.time")
    assert isinstance(ok(answer)["result"], str)  # the URL works
    # a test call: registered, finished, recorded — then its page
    done = await harness.client.post("/calls/test", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"].startswith("/calls/")
    call_page = await harness.client.get(done.headers["location"])
    assert call_page.status_code == 200
    assert "test-call.wav" in call_page.text and "2.0 s" in call_page.text
    [row] = ok(await harness.call(hook, "voximplant.statistic.get"))["result"]
    assert row["CALL_FAILED_CODE"] == "200" and row["CALL_DURATION"] == "2"
    assert "Connect your PBX" not in (await harness.client.get("/")).text  # it has calls now


async def test_operators_see_no_first_steps(harness: Harness, hook: str) -> None:
    op = await harness.add_user(name="Op", inner_number="102")
    csrf = await sign_in(harness, op)
    assert "Connect your PBX" not in (await harness.client.get("/")).text
    for path, form in (("/", {"action": "webhook"}), ("/calls/test", {})):
        refused = await harness.client.post(path, data={"csrf": csrf, **form})
        assert refused.status_code == 403, path
    assert ok(await harness.call(hook, "voximplant.statistic.get"))["result"] == []
