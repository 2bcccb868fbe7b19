"""Routing, transport and envelope: docs/reference/protocol.md, "Routing" and "Envelope"."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.helpers import err, ok


@pytest.mark.parametrize(
    "suffix",
    ["server.time", "server.time.json", "server.time/", "server.time.json/", "SERVER.Time"],
)
async def test_webhook_url_forms(harness: Harness, hook: str, suffix: str) -> None:
    body = ok(await harness.client.get(hook + suffix))
    assert isinstance(body["result"], str)


async def test_three_spellings_give_identical_results(harness: Harness, hook: str) -> None:
    bodies = [
        ok(await harness.client.post(hook + m, json={"ID": 1}))["result"]
        for m in ("user.get", "user.get.json", "user.get/")
    ]
    assert bodies[0] == bodies[1] == bodies[2]


@pytest.mark.parametrize("name", ["user.get", "USER.GET", "User.Get", "user.GET.json"])
async def test_method_names_case_insensitive(harness: Harness, hook: str, name: str) -> None:
    body = ok(await harness.client.get(hook + name))
    assert body["result"][0]["ID"] == "1"


async def test_xml_transport_is_a_clear_json_error(harness: Harness, hook: str) -> None:
    body = err(await harness.client.get(hook + "server.time.xml"), 400, "ERROR_TRANSPORT")
    assert "XML" in body["error_description"]


async def test_unknown_method_is_404_before_auth(harness: Harness) -> None:
    err(
        await harness.client.get("/rest/no.such.method"),
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    )
    err(await harness.client.get("/rest/1/wrongcode/no.such"), 404, "ERROR_METHOD_NOT_FOUND")


@pytest.mark.parametrize("path", ["/rest", "/rest/", "/rest/a/b", "/rest/1/2/3/4"])
async def test_odd_paths_never_redirect(harness: Harness, path: str) -> None:
    response = await harness.client.get(path)
    assert response.status_code == 404 and response.json()["error"] == "ERROR_METHOD_NOT_FOUND"
    assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_no_auth_and_bad_webhook(harness: Harness, hook: str) -> None:
    err(
        await harness.client.get("/rest/server.time"),
        401,
        "NO_AUTH_FOUND",
        "Wrong authorization data",
    )
    err(
        await harness.client.get("/rest/1/wrongcode1/server.time"),
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    )
    # the right code under another user id
    err(await harness.client.get("/rest/2/secretcode/server.time"), 401, "INVALID_CREDENTIALS")


async def test_any_verb_and_no_params(harness: Harness, hook: str) -> None:
    for verb in ("GET", "POST", "PUT"):
        ok(await harness.client.request(verb, hook + "server.time"))


async def test_cors_headers(harness: Harness, hook: str) -> None:
    response = await harness.client.get(hook + "server.time")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_params_ignored(harness: Harness, hook: str) -> None:
    """SDK bookkeeping params never cause errors."""
    ok(
        await harness.client.post(
            hook + "server.time?bx24_request_id=abc&bx24_sdk_ver=2.2.0&bx24_sdk_type=b24-js-sdk",
            json={"start": 0, "__order": 1, "anything": [1, 2]},
        )
    )


async def test_request_body_limit_is_json_413(harness: Harness, hook: str) -> None:
    harness.services.settings = harness.services.settings.replace(max_body_size=1000)
    body = err(
        await harness.client.post(
            hook + "server.time",
            content=b"a=" + b"x" * 5000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        413,
        "REQUEST_ENTITY_TOO_LARGE",
    )
    assert "1000" in body["error_description"]


async def test_32mib_body_accepted(harness: Harness, hook: str) -> None:
    """Bodies of at least 32 MiB (base64 recordings inside batch cmds)."""
    filler = "x" * (32 * 1024 * 1024)
    body = ok(await harness.client.post(hook + "server.time", json={"IGNORED": filler}))
    assert isinstance(body["result"], str)
