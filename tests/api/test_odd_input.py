"""Inputs that used to end in HTTP 500, each answered now with the reference's error or a
clear 400 (issue: "no input freezes, crashes or duplicates anything")."""

from __future__ import annotations

import base64
import json
import tracemalloc
from urllib.parse import quote

import pytest

from tests.conftest import FIXTURES, Harness
from tests.helpers import err, ok

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
REGISTER = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}


async def _finished(harness: Harness, hook: str) -> str:
    call = await harness.call(hook, "telephony.externalCall.register", REGISTER)
    call_id = call.json()["result"]["CALL_ID"]
    await harness.call(hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1})
    return call_id


async def test_nan_and_infinity_make_the_json_invalid(harness: Harness, hook: str) -> None:
    """PHP's decoder refuses them, so the reference ignores such a body."""
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"USER_ID": ' + literal + b', "PHONE_NUMBER": "+7916", "TYPE": 2}'
        response, _ = await harness.asgi(
            "POST", hook + "telephony.externalCall.register", body=body, headers=JSON
        )
        err(response, 400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")
    # a number too big for a double is infinity in PHP too: an int cast gives 0
    body = b'{"USER_ID": 1e999, "PHONE_NUMBER": "+7916", "TYPE": 2}'
    response, _ = await harness.asgi(
        "POST", hook + "telephony.externalCall.register", body=body, headers=JSON
    )
    err(response, 400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")


@pytest.mark.parametrize("value", [2**64, 10**30, -(2**70), "99999999999999999999", 2**40])
async def test_huge_integers(harness: Harness, hook: str, value: object) -> None:
    """Beyond 64 bits (and beyond 32 bits on PostgreSQL's old columns) in ids, filters and
    USER_ID."""
    response = await harness.call(
        hook, "telephony.externalCall.register", {**REGISTER, "USER_ID": value}
    )
    err(response, 400, "ERROR_CORE")
    for method, params in (
        ("crm.contact.get", {"id": value}),
        ("crm.contact.list", {"filter": {"ID": value, ">ID": value, "@ID": [value, 1]}}),
        ("voximplant.statistic.get", {"FILTER": {"PORTAL_USER_ID": value}}),
        ("user.get", {"FILTER": {"ID": value}}),
        ("disk.file.get", {"id": value}),
        ("crm.activity.binding.list", {"activityId": value}),
    ):
        response = await harness.call(hook, method, params)
        assert response.status_code < 500, (method, response.text)
    call_id = (await harness.call(hook, "telephony.externalCall.register", REGISTER)).json()
    finish = await harness.call(
        hook,
        "telephony.externalCall.finish",
        {"CALL_ID": call_id["result"]["CALL_ID"], "USER_ID": 1, "DURATION": 2**62, "VOTE": 2**40},
    )
    ok(finish)


@pytest.mark.parametrize("op", ["@", "!@"])
async def test_in_operators_with_one_value(harness: Harness, hook: str, op: str) -> None:
    await harness.call(hook, "crm.contact.add", {"fields": {"NAME": "A"}})
    response = await harness.call(hook, "crm.contact.list", {"filter": {f"{op}ID": "1"}})
    assert ok(response)["total"] == (1 if op == "@" else 0)


async def test_lone_surrogates(harness: Harness, hook: str) -> None:
    """In `auth` and in field values: PHP's decoder refuses the JSON, the body is
    ignored."""
    body = b'{"auth": "\\ud800", "fields": {"NAME": "\\udfff x"}}'
    response, _ = await harness.asgi("POST", "/rest/crm.contact.add", body=body, headers=JSON)
    err(response, 401, "NO_AUTH_FOUND")
    response, _ = await harness.asgi("POST", hook + "crm.contact.add", body=body, headers=JSON)
    err(response, 400, "", 'The field "First name" is required.')
    form = b"fields[NAME]=%ED%A0%80&auth=%ED%A0%80"
    response, _ = await harness.asgi("POST", "/rest/crm.contact.add", body=form, headers=FORM)
    err(response, 401, "invalid_token")


async def test_batch_keys_and_references(harness: Harness, hook: str) -> None:
    response = await harness.call(
        hook,
        "batch",
        {"cmd": {"²": "server.time", "a": "user.get?ID=1", "b": "user.get?ID=$result[a][--5]"}},
    )
    body = ok(response)["result"]
    assert set(body["result"]) == {"²", "a", "b"}


async def test_long_like_pattern(harness: Harness, hook: str) -> None:
    await harness.call(hook, "crm.contact.add", {"fields": {"NAME": "A%" * 10}})
    for key in ("%NAME", "!%NAME", "?NAME"):
        response = await harness.call(hook, "crm.contact.list", {"filter": {key: "%" * 50_000}})
        ok(response)
    response = await harness.call(hook, "crm.contact.list", {"filter": {"=%NAME": "%" * 50_000}})
    err(response, 400, "INVALID_REQUEST")
    response = await harness.call(hook, "crm.contact.list", {"filter": {"%NAME": "A%A"}})
    assert ok(response)["total"] == 1


@pytest.mark.parametrize(
    "url",
    ["http://0177.0.0.1/x.wav", "http://a\tb.example/x.wav", "http://[::1/x.wav", "http://h:0/x"],
)
async def test_unusable_record_urls(harness: Harness, hook: str, url: str) -> None:
    call_id = await _finished(harness, hook)
    response = await harness.call(
        hook, "telephony.externalCall.attachRecord", {"CALL_ID": call_id, "RECORD_URL": url}
    )
    err(response, 400, "ERROR_CORE")
    assert response.json()["error_description"].startswith("URL: ")
    # finish's background fetch ends `failed`, never `pending` for ever
    call = await harness.call(hook, "telephony.externalCall.register", {**REGISTER, "TYPE": 1})
    other = call.json()["result"]["CALL_ID"]
    await harness.call(
        hook, "telephony.externalCall.finish", {"CALL_ID": other, "USER_ID": 1, "RECORD_URL": url}
    )
    await harness.services.background.join(10)
    rows = await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": other}})
    row = ok(rows)["result"][0]
    assert row["RECORD_FETCH_STATUS"] == "failed" and row["RECORD_FETCH_ERROR"].startswith("URL: ")


async def test_nul_characters_are_refused(harness: Harness, hook: str) -> None:
    for method, params in (
        ("crm.contact.add", {"fields": {"NAME": "a\x00b"}}),
        ("telephony.externalCall.register", {**REGISTER, "EXTERNAL_CALL_ID": "\x00"}),
        ("voximplant.statistic.get", {"FILTER": {"CALL_FAILED_REASON": "\x00"}}),
        ("crm.contact.list", {"filter": {"NAME\x00": "x"}}),
    ):
        err(await harness.call(hook, method, params), 400, "INVALID_REQUEST")
    response, _ = await harness.asgi(
        "POST", hook + "crm.contact.add", body=b"fields[NAME]=a%00b", headers=FORM
    )
    err(response, 400, "INVALID_REQUEST", "Parameter values must not contain NUL characters")


async def test_a_file_part_where_text_is_expected(harness: Harness, hook: str) -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="fields[NAME]"; filename="x.txt"\r\n\r\n'
        b"Anna\r\n--B--\r\n"
    )
    response, _ = await harness.asgi(
        "POST",
        hook + "crm.contact.add",
        body=body,
        headers={"content-type": "multipart/form-data; boundary=B"},
    )
    err(
        response,
        400,
        "INVALID_REQUEST",
        "Parameter fields[NAME] is a file upload; a text value is expected",
    )
    listed = ok(await harness.call(hook, "crm.contact.list", {}))
    assert listed["total"] == 0


async def test_values_longer_than_their_column(harness: Harness, hook: str) -> None:
    """PostgreSQL refused them with a database error; SQLite stored them. Both refuse now,
    naming the field."""
    response = await harness.call(hook, "crm.contact.add", {"fields": {"NAME": "x" * 101}})
    err(response, 400, "INVALID_ARGUMENT", 'The length of "NAME" should not exceed 100 characters.')
    response = await harness.call(
        hook, "telephony.externalCall.register", {**REGISTER, "EXTERNAL_CALL_ID": "e" * 256}
    )
    err(response, 400, "INVALID_ARGUMENT")
    response = await harness.call(
        hook, "crm.deal.add", {"fields": {"TITLE": "d", "OPPORTUNITY": 1e20}}
    )
    err(response, 400, "INVALID_ARGUMENT", 'The value of "OPPORTUNITY" is out of range.')


async def test_dates_at_the_ends_of_the_calendar(harness: Harness, hook: str) -> None:
    for date in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"):
        response = await harness.call(
            hook, "telephony.externalCall.register", {**REGISTER, "CALL_START_DATE": date}
        )
        err(response, 400, "ERROR_CORE", "CALL_START_DATE should be in the ISO-8601 format")
        response = await harness.call(hook, "crm.contact.list", {"filter": {">DATE_CREATE": date}})
        ok(response)
    late = await harness.call(
        hook,
        "telephony.externalCall.register",
        {**REGISTER, "CALL_START_DATE": "9999-12-31T23:00:00+00:00"},
    )
    call_id = ok(late)["result"]["CALL_ID"]
    finish = await harness.call(
        hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 7200}
    )
    ok(finish)


async def test_recording_inside_a_form_batch_streams(harness: Harness, hook: str) -> None:
    """How CRest- and MikoPBX-style connectors send register + finish + attachRecord: one
    form-encoded batch, the command percent-encoded twice. A recording inside used to cost
    45 MB of memory per MB."""
    wav = (FIXTURES / "call-8k-mono.wav").read_bytes() * 72  # ~12 MB (the bytes repeat)
    b64 = base64.b64encode(wav).decode()
    register = "telephony.externalCall.register?USER_ID=1&PHONE_NUMBER=%2B79160001234&TYPE=2"
    finish = "telephony.externalCall.finish?CALL_ID=$result[r][CALL_ID]&USER_ID=1&DURATION=5"
    attach = (
        "telephony.externalCall.attachRecord?CALL_ID=$result[r][CALL_ID]&FILENAME=a.wav"
        "&FILE_CONTENT=" + quote(b64, safe="")
    )
    body = "&".join(
        f"cmd[{key}]={quote(command, safe='')}"
        for key, command in (("r", register), ("f", finish), ("a", attach))
    ).encode()
    tracemalloc.start()
    try:
        response, _ = await harness.asgi("POST", hook + "batch", body=body, headers=FORM)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result = ok(response)["result"]
    assert result["result_error"] == [], result["result_error"]
    file_id = result["result"]["a"]["FILE_ID"]
    assert peak < len(wav), f"peak {peak / 1e6:.1f} MB for a {len(wav) / 1e6:.1f} MB recording"
    info = ok(await harness.call(hook, "disk.file.get", {"id": file_id}))["result"]
    assert int(info["SIZE"]) == len(wav)
    download = await harness.client.get(info["DOWNLOAD_URL"].split("://", 1)[1].split("/", 1)[1])
    assert download.content == wav


async def test_json_batch_with_a_recording(harness: Harness, hook: str) -> None:
    call_id = await _finished(harness, hook)
    b64 = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes() * 3).decode()
    command = (
        f"telephony.externalCall.attachRecord?CALL_ID={call_id}&FILENAME=b.wav&FILE_CONTENT="
        + quote(b64, safe="")
    )
    response, _ = await harness.asgi(
        "POST", hook + "batch", body=json.dumps({"cmd": [command]}).encode(), headers=JSON
    )
    assert ok(response)["result"]["result"][0]["FILE_ID"] > 0
