"""Transport limits over real HTTP (uvicorn on 127.0.0.1; docs/reference/clients.md,
"Large bodies"): 413 without a dropped connection."""

from __future__ import annotations

import http.client
import json
import socket

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


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body, read as an HTTP client reads it: up to its
    Content-Length. (Reading to the end of the stream would wait out the server's lingering
    close, two seconds, for a client that never closes its side.)"""
    answer = b""
    while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return head, body


def test_a_request_head_past_the_limit_gets_a_json_400_not_a_reset(live: Live) -> None:
    """A 1 MiB URL (max_request_head is 512 KiB): the client sends all of it and reads a
    JSON 400, instead of a connection reset while it is still sending."""
    for size in (600 * 1024, 1024 * 1024, 3 * 1024 * 1024):
        with socket.create_connection(("127.0.0.1", live.http.port), timeout=30) as sock:
            sock.sendall(
                b"GET /rest/server.time?x=" + b"Z" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            head, body = read_answer(sock)
        # 400 from the parser when the head arrived in pieces, 431 when it came in whole
        assert head.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), head
        assert json.loads(body)["error"] == "INVALID_REQUEST"
        assert b"max_request_head" in body
