"""Every registered method, fed malformed input: an error envelope with a 4xx status or a
normal success — never a 500."""

from __future__ import annotations

import pytest

from b24tel.app import build_registry
from tests.conftest import Harness

METHODS = [m.name for m in build_registry().all()]

JUNK: list[object] = [
    {
        "ID": {"x": [1, {"y": None}]},
        "FIELDS": "notadict",
        "filter": "x",
        "order": [1],
        "select": {"a": {}},
        "start": "abc",
    },
    {
        "CALL_ID": [1, 2],
        "USER_ID": {"a": 1},
        "TYPE": [],
        "PHONE_NUMBER": {"x": 1},
        "FILE_CONTENT": 5,
        "FILENAME": ["a"],
        "MESSAGES": "x",
        "cmd": 5,
        "halt": [1],
    },
    {
        "id": -1,
        "fields": {"PHONE": "x", "EMAIL": [None, 1]},
        "FILTER": {"><ID": 1, "@ID": "x"},
        "SORT": ["ID"],
        "ORDER": {"a": 1},
        "start": -5,
        "values": 7,
        "type": [],
    },
]


@pytest.mark.parametrize("method", METHODS)
async def test_malformed_input_never_500(harness: Harness, hook: str, method: str) -> None:
    for params in JUNK:
        response = await harness.call(hook, method, params)
        assert response.status_code < 500, (method, params, response.text)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body = response.json()
        if response.status_code >= 400:
            assert set(body) >= {"error", "error_description"}, body
        else:
            assert "error" not in body and "result" in body
    raw = await harness.client.post(
        hook + method,
        content=b"\xff\xfe{[",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code < 500, (method, raw.text)
