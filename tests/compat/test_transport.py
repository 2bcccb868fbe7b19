"""Transport limits over real HTTP (uvicorn on 127.0.0.1; docs/reference/clients.md,
"Large bodies"): 413 without a dropped connection."""

from __future__ import annotations

import http.client
import json

import httpx

from tests.compat.conftest import Live


def test_64kib_query_string(live: Live) -> None:
    # httpx refuses URLs over 64 KiB itself; the standard library does not
    filler = "x" * (64 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", live.http.port, timeout=30)
    conn.request("GET", f"/rest/1/secretcode/user.get?FILTER[NAME]=Admin&pad={filler}")
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 200, body
    assert [u["ID"] for u in body["result"]] == ["1"]


def test_oversized_body_gets_json_413(live: Live) -> None:
    for server in (live.http,):
        services = server.app.state.services
        services.settings = services.settings.replace(max_body_size=1024 * 1024)
    body = b"a=" + b"x" * (8 * 1024 * 1024)
    response = httpx.post(
        f"{live.hook_http}server.time",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["error"] == "REQUEST_ENTITY_TOO_LARGE"


def test_method_case_inside_batch(live: Live) -> None:
    response = httpx.post(
        f"{live.hook_http}batch",
        json={"cmd": {"a": "USER.Get?ID=1", "b": "Server.TIME", "c": "user.get.json?ID=2"}},
    )
    r = response.json()["result"]
    assert r["result_error"] == []
    assert r["result"]["a"][0]["ID"] == "1" and r["result"]["c"][0]["ID"] == "2"
