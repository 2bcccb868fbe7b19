"""Assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

TIME_KEYS = {
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
}
ISO_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"


def assert_time_block(block: Any) -> None:
    import re

    assert isinstance(block, dict) and set(block) == TIME_KEYS, block
    for key in ("start", "finish", "duration", "processing", "operating"):
        assert isinstance(block[key], int | float) and not isinstance(block[key], bool)
    assert isinstance(block["start"], int) and isinstance(block["operating_reset_at"], int)
    assert re.match(ISO_RE, block["date_start"]) and re.match(ISO_RE, block["date_finish"])


def ok(response: httpx.Response) -> Any:
    """A success envelope (docs/reference/clients.md, "Answers"): returns the body."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert "error" not in body, body
    assert "result" in body
    assert_time_block(body["time"])
    return body


def err(response: httpx.Response, status: int, code: str, description: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["error"] == code, body
    if description is not None:
        assert body["error_description"] == description, body
    return body
