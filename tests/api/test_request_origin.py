"""A REST request's query and the address its client named are read from the ASGI scope
(b24tel.rest.origin), never through Starlette's URL objects — building two per request was
4.5 % of a trivial request's time — and they read the same."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import HTTPConnection, Request

from b24tel.rest.origin import base_url, query_string
from tests.conftest import Harness
from tests.helpers import ok

ATTACH = "telephony.externalCall.attachRecord"


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "root_path": "",
        "path": "/rest/1/code/server.time",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
    }
    scope.update(changes)
    return scope


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"headers": [(b"host", b"portal.test")]},
        {"headers": [(b"host", b"portal.test:8443")], "scheme": "https"},
        {"headers": [(b"host", b"portal.test:443")], "scheme": "https"},
        {"headers": [(b"host", b"[::1]:8000")]},
        {"headers": [], "server": ("::1", 8000)},
        {"headers": [], "server": ("10.0.0.5", 80)},
        {"headers": [], "server": None},
        {"headers": [(b"host", b"bad host name")]},
        {"root_path": "/b24"},
    ],
)
def test_the_address_reads_as_starlettes(changes: dict[str, Any]) -> None:
    scope = _scope(**changes)
    services: Any = SimpleNamespace(settings=SimpleNamespace(public_url=""))
    expected = str(Request(scope).base_url).rstrip("/")
    assert base_url(services, Request(scope)) == expected


def test_the_public_url_wins() -> None:
    services: Any = SimpleNamespace(settings=SimpleNamespace(public_url="https://pbx.test/"))
    assert base_url(services, Request(_scope())) == "https://pbx.test"


@pytest.mark.parametrize(
    "raw", [b"", b"a=1&b=%20x", b"auth=abc&FIELDS[]=1", b"x=1#fragment", b"x=%23y", b"?=&"]
)
def test_the_query_reads_as_starlettes(raw: bytes) -> None:
    request = Request(_scope(query_string=raw))
    assert query_string(request) == Request(_scope(query_string=raw)).url.query


async def test_a_rest_request_builds_no_url(
    harness: Harness, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def finished_call() -> str:
        params = {"USER_ID": 1, "PHONE_NUMBER": "+79161234567", "TYPE": 2}
        registered = ok(await harness.call(hook, "telephony.externalCall.register", params))
        call_id: str = registered["result"]["CALL_ID"]
        finish = {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 5}
        ok(await harness.call(hook, "telephony.externalCall.finish", finish))
        return call_id

    call_id = await finished_call()

    def refuse(self: HTTPConnection) -> None:
        raise AssertionError("a URL object was built")

    monkeypatch.setattr(HTTPConnection, "url", property(refuse))
    monkeypatch.setattr(HTTPConnection, "base_url", property(refuse))
    assert ok(await harness.client.get(hook + "server.time?x=1"))["result"]
    # a link made from the address the client named, and a token in the query string
    attach = {"CALL_ID": call_id, "FILENAME": "x.mp3"}
    answer = ok(await harness.call(hook, ATTACH, attach))["result"]
    assert answer["uploadUrl"].startswith("http://testserver/rest/1/secretcode/upload/?token=")
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    user = ok(await harness.client.get(f"/rest/user.current?auth={pair.access_token}"))
    assert user["result"]["ID"] == "1"
