"""Hostile and oversized input: linear parsing, configurable limits, credentials checked
before the body is read, and bodies without credentials never parsed."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import b24tel
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.wire import phpquery
from tests.conftest import WEBHOOK_CODE, Harness, make_harness
from tests.helpers import err, ok

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


@pytest.fixture
async def small(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    """Small limits, so each is reached with a small request."""
    tight = settings.replace(
        max_input_vars=1000, max_input_nesting=8, max_unauthenticated_body=256 * 1024
    )
    async with make_harness(tight, clock) as h:
        uid = await h.add_user(name="Admin", admin=True, inner_number="101")
        await h.add_webhook(uid, code=WEBHOOK_CODE)
        yield h


HOOK = f"/rest/1/{WEBHOOK_CODE}/"


# the package's own files, by its directory as Python imported it (frames carry that
# path): libraries in a virtualenv whose path contains "b24tel" — one inside the clone —
# are not ours
PACKAGE = os.path.dirname(b24tel.__file__) + os.sep


def line_events(work: Callable[[], Any]) -> int:
    """How many Python lines ``work`` executes: a deterministic measure of work done."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def test_appending_parse_is_linear() -> None:
    """Each `a[]=` append used to rescan the array: 20 000 pairs took 9 s (defect 1)."""
    small = line_events(lambda: phpquery.parse("a[]=1&" * 2000))
    large = line_events(lambda: phpquery.parse("a[]=1&" * 4000))
    assert large < 2.2 * small, (small, large)


async def test_unauthenticated_pairs_are_never_parsed(small: Harness) -> None:
    """A body without credentials is refused without decoding it: even one over
    max_input_vars gets 401, not the limit's 400."""
    body = b"a[]=1&" * 5000
    response, _ = await small.asgi("POST", "/rest/server.time", body=body, headers=FORM)
    err(response, 401, "NO_AUTH_FOUND", "Wrong authorization data")
    response, _ = await small.asgi("POST", HOOK + "server.time", body=body, headers=FORM)
    err(response, 400, "INVALID_REQUEST")
    assert "max_input_vars" in response.json()["error_description"]


async def test_refusing_an_unauthenticated_body_costs_no_python_per_pair(small: Harness) -> None:
    async def refuse(pairs: int) -> int:
        body = b"a[]=1&" * pairs
        count = 0

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            nonlocal count
            if event == "line" and frame.f_code.co_filename.startswith(PACKAGE):
                count += 1
            return tracer

        sys.settrace(tracer)
        try:
            response, _ = await small.asgi("POST", "/rest/server.time", body=body, headers=FORM)
        finally:
            sys.settrace(None)
        assert response.status_code == 401
        return count

    assert await refuse(8000) < 1.2 * await refuse(1000)


async def test_credentials_in_the_path_are_checked_before_the_body_is_read(
    small: Harness,
) -> None:
    body = b"x" * (2 * 1024 * 1024)
    response, read = await small.asgi(
        "POST", "/rest/1/wrongcode/server.time", body=body, headers=FORM
    )
    err(response, 401, "INVALID_CREDENTIALS")
    assert read == 0


async def test_bearer_credentials_are_checked_before_the_body_is_read(small: Harness) -> None:
    app, _ = await small.add_app()
    pair = await small.token(app, 1)
    body = json.dumps({"x": "y" * 100_000}).encode()
    headers = {**JSON, "authorization": f"Bearer {pair.access_token}"}
    response, read = await small.asgi("POST", "/rest/profile", body=body, headers=headers)
    ok(response)
    assert read == len(body)
    response, read = await small.asgi(
        "POST", "/rest/profile", body=body, headers={**JSON, "authorization": "Bearer nope"}
    )
    err(response, 401, "invalid_token")


async def test_big_body_without_credentials_is_refused_at_the_cap(small: Harness) -> None:
    """A big form body without credentials used to be read and parsed whole before the
    401; now reading stops at max_unauthenticated_body."""
    body = b"a=" + b"x" * (4 * 1024 * 1024)
    response, read = await small.asgi("POST", "/rest/server.time", body=body, headers=FORM)
    err(response, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert "credentials" in response.json()["error_description"]
    assert read <= 256 * 1024 + 65536


@pytest.mark.parametrize("ctype", ["application/octet-stream", "audio/wav", "image/png"])
async def test_a_body_that_cannot_name_credentials_is_refused_unread(
    small: Harness, ctype: str
) -> None:
    """A 100 MB octet-stream without credentials was read up to the cap before the 401; a
    body of a type that cannot carry `auth` is now refused before any of it is read."""
    response, read = await small.asgi(
        "POST",
        "/rest/server.time",
        body=b"\x00" * (4 * 1024 * 1024),
        headers={"content-type": ctype},
    )
    err(response, 401, "NO_AUTH_FOUND")
    assert read == 0


async def test_a_multipart_body_must_name_credentials_early(small: Harness) -> None:
    """20 000 parts without credentials cost 260 ms of parsing before the 401; now the
    parser stops after a hundred parts."""
    parts = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="a[]"\r\n\r\n1\r\n' for _ in range(20_000)
    )
    body = parts + b"--B--\r\n"
    response, read = await small.asgi(
        "POST", "/rest/server.time", body=body,
        headers={"content-type": "multipart/form-data; boundary=B"}, chunk=8192,
    )  # fmt: skip
    err(response, 401, "NO_AUTH_FOUND")
    assert read < 64 * 1024
    app, _ = await small.add_app()
    pair = await small.token(app, 1)
    early = f'--B\r\nContent-Disposition: form-data; name="auth"\r\n\r\n{pair.access_token}\r\n'
    response, _ = await small.asgi(
        "POST", "/rest/profile", body=early.encode() + parts[: len(parts) // 40] + b"--B--\r\n",
        headers={"content-type": "multipart/form-data; boundary=B"},
    )  # fmt: skip
    assert ok(response)["result"]["ID"] == "1"


async def test_body_credentials_first_allow_a_large_body(small: Harness) -> None:
    """MikoPBX sends `auth` first in its form body: any size up to max_body_size."""
    app, _ = await small.add_app()
    pair = await small.token(app, 1)
    body = f"auth={pair.access_token}&pad=".encode() + b"x" * (1024 * 1024)
    response, _ = await small.asgi("POST", "/rest/profile", body=body, headers=FORM)
    assert ok(response)["result"]["ID"] == "1"


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_body_credentials_last_work_within_the_cap(small: Harness, encoding: str) -> None:
    """CRest appends `auth` after the other parameters."""
    app, _ = await small.add_app()
    pair = await small.token(app, 1)
    if encoding == "form":
        body = b"pad=" + b"x" * 100_000 + f"&auth={pair.access_token}".encode()
        headers = FORM
    else:
        body = json.dumps({"pad": "x" * 100_000, "auth": pair.access_token}).encode()
        headers = JSON
    response, _ = await small.asgi("POST", "/rest/profile", body=body, headers=headers)
    assert ok(response)["result"]["ID"] == "1"


async def test_body_auth_replaces_a_wrong_query_auth(small: Harness) -> None:
    app, _ = await small.add_app()
    pair = await small.token(app, 1)
    response = await small.client.post("/rest/profile?auth=stale", json={"auth": pair.access_token})
    assert ok(response)["result"]["ID"] == "1"
    target = f"/rest/profile?auth={pair.access_token}"
    assert ok(await small.client.post(target, json={}))["result"]["ID"] == "1"
    err(await small.client.post(target, json={"auth": "x"}), 401, "invalid_token")


async def test_too_many_parameters(small: Harness) -> None:
    for target, body, headers in (
        (HOOK + "server.time", b"&".join(b"a%d=1" % i for i in range(1001)), FORM),
        (HOOK + "server.time", json.dumps(list(range(1001))).encode(), JSON),
        (HOOK + "server.time?" + "&".join(f"q{i}=1" for i in range(1001)), b"", {}),
    ):
        response, _ = await small.asgi("POST", target, body=body, headers=headers)
        err(response, 400, "INVALID_REQUEST")
    response, _ = await small.asgi(
        "POST", HOOK + "server.time", body=json.dumps(list(range(900))).encode(), headers=JSON
    )
    ok(response)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"a" + b"[x]" * 9 + b"=1", FORM),
        (b"[" * 5000 + b"]" * 5000, JSON),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON),
    ],
)
async def test_too_deep_nesting(small: Harness, body: bytes, headers: dict[str, str]) -> None:
    """JSON 5 000 levels deep used to end in RecursionError (a 500)."""
    response, _ = await small.asgi("POST", HOOK + "server.time", body=body, headers=headers)
    err(response, 400, "INVALID_REQUEST")
    assert "max_input_nesting" in response.json()["error_description"]


async def test_nesting_within_the_limit_is_fine(small: Harness) -> None:
    response, _ = await small.asgi(
        "POST", HOOK + "server.time", body=b"a" + b"[x]" * 7 + b"=1", headers=FORM
    )
    ok(response)


async def test_limits_are_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    for name in ("max_input_vars", "max_input_nesting", "max_unauthenticated_body"):
        assert f"`{name}`" in text
