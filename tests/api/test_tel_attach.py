"""telephony.externalCall.attachRecord in every mode, with every fixture; the two-step
upload; RECORD_URL; replacement keeping earlier versions (docs/reference/telephony.md,
"attachRecord")."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from b24tel.app import build_fetcher
from b24tel.clock import FakeClock
from b24tel.config import Settings
from tests.conftest import FIXTURES, Harness, make_harness
from tests.helpers import err, ok
from tests.unit.test_audio import EXPECTED

ATTACH = "telephony.externalCall.attachRecord"
VALID = sorted(EXPECTED)
INVALID = ["not-audio.mp3", "truncated.mp3"]
MODES = ["json", "form", "query", "batch-json", "batch-form", "pair", "upload", "url"]


class PBX(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.strip("/").split("?")[0]
        path = FIXTURES / name
        if name == "slow.mp3":
            import time

            time.sleep(2)
        body, status = (path.read_bytes(), 200) if path.is_file() else (b"", 404)
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:
            pass


@pytest.fixture(scope="module")
def pbx() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), PBX)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
async def harness(settings: Settings, fake_clock: FakeClock) -> AsyncIterator[Harness]:
    allow = settings.replace(record_url_allowlist="127.0.0.1/32", record_url_read_timeout=0.5)
    async with make_harness(allow, fake_clock) as h:
        yield h


async def finished_call(h: Harness, hook: str, phone: str = "+79160001234") -> str:
    call_id = ok(
        await h.call(
            hook,
            "telephony.externalCall.register",
            {
                "USER_ID": 1,
                "PHONE_NUMBER": phone,
                "TYPE": 2,
                "CALL_START_DATE": "2026-03-07T10:20:30+03:00",
            },
        )
    )["result"]["CALL_ID"]
    ok(
        await h.call(
            hook,
            "telephony.externalCall.finish",
            {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 10},
        )
    )
    return call_id


def form(params: dict) -> dict:
    return {
        "content": "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items()),
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    }


async def attach(
    h: Harness, hook: str, mode: str, call_id: str, fixture: str, pbx: str = ""
) -> httpx.Response:
    data = (FIXTURES / fixture).read_bytes()
    b64 = base64.b64encode(data).decode()
    name = fixture if fixture.endswith((".wav", ".mp3")) else "rec.mp3"
    params = {"CALL_ID": call_id, "FILENAME": name, "FILE_CONTENT": b64}
    if mode == "json":
        return await h.client.post(hook + ATTACH, json=params)
    if mode == "form":
        return await h.client.post(hook + ATTACH, **form(params))
    if mode == "query":
        return await h.raw_get(f"{hook}{ATTACH}?" + form(params)["content"])
    if mode == "pair":
        return await h.client.post(
            hook + ATTACH,
            json={"CALL_ID": call_id, "FILENAME": name, "FILE_CONTENT": ["tmp.bin", b64]},
        )
    if mode.startswith("batch"):
        cmd = f"{ATTACH}?" + form(params)["content"]
        if mode == "batch-json":
            response = await h.client.post(hook + "batch", json={"cmd": {"a": cmd}})
        else:
            response = await h.client.post(hook + "batch", **form({"cmd[a]": cmd}))
        return _unbatch(response)
    if mode == "upload":
        first = ok(await h.call(hook, ATTACH, {"CALL_ID": call_id, "FILENAME": name}))["result"]
        assert first["fieldName"] == "file"
        return await h.client.post(
            local(first["uploadUrl"]), files={"file": (name, data, "application/octet-stream")}
        )
    if mode == "url":
        return await h.call(hook, ATTACH, {"CALL_ID": call_id, "RECORD_URL": f"{pbx}/{fixture}"})
    raise AssertionError(mode)


def _unbatch(response: httpx.Response) -> httpx.Response:
    """A batch's single result as if it had been a direct call."""
    body = response.json()["result"]
    if body["result_error"]:
        error = body["result_error"]["a"]
        return httpx.Response(
            400, json=error, headers={"content-type": "application/json; charset=utf-8"}
        )
    return httpx.Response(
        200,
        json={"result": body["result"]["a"], "time": body["result_time"]["a"]},
        headers={"content-type": "application/json; charset=utf-8"},
    )


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def stored_bytes(h: Harness, hook: str, file_id: int) -> tuple[bytes, dict]:
    info = ok(await h.call(hook, "disk.file.get", {"id": file_id}))["result"]
    response = await h.client.get(local(info["DOWNLOAD_URL"]))
    assert response.status_code == 200
    return response.content, info


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", VALID)
async def test_every_mode_every_fixture(
    harness: Harness, hook: str, pbx: str, mode: str, fixture: str
) -> None:
    call_id = await finished_call(harness, hook)
    response = await attach(harness, hook, mode, call_id, fixture, pbx)
    assert response.status_code == 200, response.text
    file_id = response.json()["result"]["FILE_ID"]
    assert isinstance(file_id, int)
    content, info = await stored_bytes(harness, hook, file_id)
    expected = (FIXTURES / fixture).read_bytes()
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(expected).hexdigest()
    assert info["SHA256"] == hashlib.sha256(expected).hexdigest()
    _container, codec, channels, rate, duration = EXPECTED[fixture]
    audio = info["AUDIO"]
    assert (audio["CODEC"], audio["CHANNELS"], audio["SAMPLE_RATE"]) == (codec, channels, rate)
    assert abs(audio["DURATION"] - duration) <= 0.010
    assert info["FOLDER"] == "2026-03" and info["CALL_ID"] == call_id
    row = ok(
        await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": call_id}})
    )["result"][0]
    assert row["RECORD_FILE_ID"] == file_id
    assert row["CALL_RECORD_URL"] == (f"{pbx}/{fixture}" if mode == "url" else None)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fixture", INVALID)
async def test_invalid_files_refused_in_every_mode(
    harness: Harness, hook: str, pbx: str, mode: str, fixture: str
) -> None:
    call_id = await finished_call(harness, hook)
    response = await attach(harness, hook, mode, call_id, fixture, pbx)
    body = err(response, 400, "ERROR_CORE")
    assert body["error_description"].startswith(
        "Incorrect file type or maximum size of the file exceeded ("
    )
    assert ("truncated" in body["error_description"]) is (fixture == "truncated.mp3")
    row = ok(
        await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": call_id}})
    )["result"][0]
    assert row["RECORD_FILE_ID"] is None
    assert [o async for o in harness.services.recordings.storage.list()] == []


async def test_replace_keeps_earlier_version(harness: Harness, hook: str) -> None:
    call_id = await finished_call(harness, hook)
    first = (await attach(harness, hook, "json", call_id, "call-8k-mono.wav")).json()["result"]
    # the same name in the same month is fine (the reference fails here)
    second = (await attach(harness, hook, "json", call_id, "call-8k-mono.wav")).json()["result"]
    third = (await attach(harness, hook, "upload", call_id, "call-32k-mono.mp3")).json()["result"]
    ids = [first["FILE_ID"], second["FILE_ID"], third["FILE_ID"]]
    assert len(set(ids)) == 3
    row = ok(
        await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": call_id}})
    )["result"][0]
    assert row["RECORD_FILE_ID"] == ids[2]
    activity = ok(
        await harness.call(
            hook,
            "crm.activity.list",
            {"filter": {"ORIGIN_ID": f"VI_{call_id}"}, "select": ["*", "FILES"]},
        )
    )
    # no CRM entity matched this number: finish filed no activity
    assert activity["total"] == 0
    for old in ids[:2]:
        content, info = await stored_bytes(harness, hook, old)
        assert content == (FIXTURES / "call-8k-mono.wav").read_bytes()
        assert info["REPLACED_BY"] is not None
    assert (await stored_bytes(harness, hook, ids[2]))[1]["REPLACED_BY"] is None


async def test_activity_points_at_recording(harness: Harness, hook: str) -> None:
    ok(
        await harness.call(
            hook, "crm.contact.add", {"fields": {"NAME": "I", "PHONE": [{"VALUE": "+79160001234"}]}}
        )
    )
    call_id = await finished_call(harness, hook)
    for fixture in ("call-8k-mono.wav", "call-32k-mono.mp3"):
        file_id = (await attach(harness, hook, "json", call_id, fixture)).json()["result"][
            "FILE_ID"
        ]
        a = ok(
            await harness.call(
                hook,
                "crm.activity.list",
                {"filter": {"ORIGIN_ID": f"VI_{call_id}"}, "select": ["*", "FILES"]},
            )
        )["result"][0]
        full = ok(await harness.call(hook, "crm.activity.get", {"id": a["ID"]}))["result"]
        assert full["STORAGE_TYPE_ID"] == "3" and full["STORAGE_ELEMENT_IDS"] == [file_id]
        assert [f["id"] for f in a["FILES"]] == [file_id]
        download = await harness.client.get(local(a["FILES"][0]["url"]))
        assert download.content == (FIXTURES / fixture).read_bytes()


async def test_attach_before_finish(harness: Harness, hook: str) -> None:
    call_id = ok(
        await harness.call(
            hook, "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "1", "TYPE": 2}
        )
    )["result"]["CALL_ID"]
    for params in (
        {"FILENAME": "a.mp3", "FILE_CONTENT": "QUJD"},
        {"FILENAME": "a.mp3"},
        {"RECORD_URL": "http://127.0.0.1:9/a.mp3"},
    ):
        err(
            await harness.call(hook, ATTACH, {"CALL_ID": call_id, **params}),
            400,
            "ERROR_CORE",
            "Call is not found in the statistic table. Looks like it is not finished yet.",
        )


async def test_errors_in_reference_order(harness: Harness, hook: str) -> None:
    call_id = await finished_call(harness, hook)
    a = lambda **p: harness.call(hook, ATTACH, {"CALL_ID": call_id, **p})  # noqa: E731
    err(
        await a(),
        400,
        "ERROR_CORE",
        "Required parameters are not set. Request should contain or URL or FILENAME parameter",
    )
    err(
        await a(FILENAME=None, FILE_CONTENT="x"),
        400,
        "ERROR_CORE",
        "Required parameters are not set. Request should contain or URL or FILENAME parameter",
    )
    err(await a(FILENAME="", FILE_CONTENT="QUJD"), 400, "ERROR_CORE", "File name is empty")
    for name in ("rec.MP3", "rec.flac", "rec", "rec.mp3.txt"):
        err(
            await a(FILENAME=name, FILE_CONTENT="QUJD"),
            400,
            "ERROR_CORE",
            "Wrong file extension. Only wav and mp3 are allowed",
        )
    for content in ("", "false"):
        err(
            await a(FILENAME="a.mp3", FILE_CONTENT=content),
            400,
            "ERROR_CORE",
            "File content is empty.",
        )
    for content in ("@@@@", "QUJD$RA==", "Q"):
        err(
            await a(FILENAME="a.mp3", FILE_CONTENT=content),
            400,
            "ERROR_CORE",
            "File content is not properly encoded. Base64 encoding is expected.",
        )


async def test_base64_tolerances(harness: Harness, hook: str) -> None:
    data = (FIXTURES / "call-32k-mono.mp3").read_bytes()
    b64 = base64.b64encode(data).decode()
    assert "+" in b64 and "/" in b64
    call_id = await finished_call(harness, hook)
    # a raw query string: '+' arrives as a space
    spaced = await harness.raw_get(
        f"{hook}{ATTACH}?CALL_ID={call_id}&FILENAME=a.mp3&FILE_CONTENT={b64.replace('/', '%2F')}"
    )
    wrapped = "\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    lines = await harness.call(
        hook, ATTACH, {"CALL_ID": call_id, "FILENAME": "b.mp3", "FILE_CONTENT": wrapped}
    )
    for response in (spaced, lines):
        file_id = ok(response)["result"]["FILE_ID"]
        assert (await stored_bytes(harness, hook, file_id))[0] == data


async def test_upload_url_shapes(harness: Harness, hook: str) -> None:
    call_id = await finished_call(harness, hook)
    r = ok(await harness.call(hook, ATTACH, {"CALL_ID": call_id, "FILENAME": "x.mp3"}))["result"]
    assert r["uploadUrl"].startswith("http://testserver/rest/1/secretcode/upload/?token=telephony|")
    assert r["fieldName"] == "file"
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    r = ok(
        await harness.client.post(
            "/rest/" + ATTACH,
            json={"auth": pair.access_token, "CALL_ID": call_id, "FILENAME": "x.mp3"},
        )
    )["result"]
    url = urlsplit(r["uploadUrl"])
    assert url.path == "/rest/upload.json"
    query = parse_qs(url.query)
    assert query["auth"] == [pair.access_token] and query["token"][0].startswith("telephony|")
    upload = await harness.client.post(
        local(r["uploadUrl"]),
        files={"file": ("r.mp3", (FIXTURES / "call-32k-mono.mp3").read_bytes(), "audio/mpeg")},
    )
    assert isinstance(ok(upload)["result"]["FILE_ID"], int)


async def test_upload_refusals(harness: Harness, hook: str, fake_clock: FakeClock) -> None:
    data = (FIXTURES / "call-32k-mono.mp3").read_bytes()
    call_id = await finished_call(harness, hook)
    other = await finished_call(harness, hook, phone="+79160005555")
    url = local(
        ok(await harness.call(hook, ATTACH, {"CALL_ID": call_id, "FILENAME": "x.mp3"}))["result"][
            "uploadUrl"
        ]
    )
    other_url = local(
        ok(await harness.call(hook, ATTACH, {"CALL_ID": other, "FILENAME": "x.mp3"}))["result"][
            "uploadUrl"
        ]
    )
    send = lambda u, **kw: harness.client.post(u, **kw)  # noqa: E731
    files = {"file": ("r.mp3", data, "application/octet-stream")}
    # tampered: another call's id inside, or a changed signature
    token = parse_qs(urlsplit(url).query)["token"][0]
    other_token = parse_qs(urlsplit(other_url).query)["token"][0]
    payload, mac = token.removeprefix("telephony|").split(".")
    other_payload = other_token.removeprefix("telephony|").split(".")[0]
    forged = url.split("?")[0] + "?token=" + quote(f"telephony|{other_payload}.{mac}")
    err(await send(forged, files=files), 403, "ACCESS_DENIED", "Access denied! Link check failed")
    err(await send(url.split("?")[0] + "?token=garbage", files=files), 403, "ACCESS_DENIED")
    # another caller cannot use the link
    hook2 = await harness.add_webhook(1, code="otherhook")
    err(await send(hook2 + "upload/?token=" + quote(token), files=files), 403, "ACCESS_DENIED")
    # the right link with a wrong extension or without the part
    err(
        await send(url, files={"file": ("r.MP3", data, "audio/mpeg")}),
        400,
        "ERROR_CORE",
        "Wrong file extension. Only wav and mp3 are allowed",
    )
    err(
        await send(url, files={"other": ("r.mp3", data, "audio/mpeg")}),
        400,
        "ERROR_CORE",
        "Error: required parameter file is not found",
    )
    err(
        await send(url, content=b"not multipart"),
        400,
        "ERROR_CORE",
        "Error: required parameter file is not found",
    )
    # works, and works again (a second upload replaces the recording)
    first = ok(await send(url, files=files))["result"]["FILE_ID"]
    second = ok(await send(url, files=files))["result"]["FILE_ID"]
    assert second != first
    # expired
    fake_clock.advance(86401)
    err(await send(url, files=files), 400, "LINK_EXPIRED")
    assert payload and other_payload != payload


async def test_upload_for_unfinished_call(harness: Harness, hook: str) -> None:
    """An upload link can only be issued for a finished call; a forged one for an open call
    is refused after the body was read (the reference's order: part, extension, call)."""
    from b24tel.telephony.records import UPLOAD_PREFIX
    from b24tel.wire import links

    call_id = ok(
        await harness.call(
            hook, "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "1", "TYPE": 2}
        )
    )["result"]["CALL_ID"]
    token = UPLOAD_PREFIX + links.sign(
        harness.services.secret,
        "upload",
        {"c": call_id, "k": "w", "w": 1, "exp": int(harness.services.clock.time()) + 60},
    )
    response = await harness.client.post(
        f"{hook}upload/?token={quote(token)}",
        files={"file": ("r.mp3", (FIXTURES / "call-32k-mono.mp3").read_bytes(), "audio/mpeg")},
    )
    err(
        response,
        400,
        "ERROR_CORE",
        "Call is not found in the statistic table. Looks like it is not finished yet.",
    )


async def test_record_url_errors(harness: Harness, hook: str, pbx: str) -> None:
    call_id = await finished_call(harness, hook)
    a = lambda url, **p: harness.call(hook, ATTACH, {"CALL_ID": call_id, "RECORD_URL": url, **p})  # noqa: E731
    err(await a(f"{pbx}/nothing.mp3"), 400, "ERROR_CORE", "Server returns HTTP error code 404")
    body = err(await a(f"{pbx}/slow.mp3"), 400, "ERROR_CORE")
    assert body["error_description"].startswith("TIMEOUT: ")
    # FILENAME overrides the URL's name
    file_id = ok(await a(f"{pbx}/call-32k-mono.mp3", FILENAME="dir/named.mp3"))["result"]["FILE_ID"]
    info = ok(await harness.call(hook, "disk.file.get", {"id": file_id}))["result"]
    assert info["NAME"] == "named.mp3"


async def test_record_url_refused_without_allowlist(
    settings: Settings, hook_free: None, pbx: str, fake_clock: FakeClock
) -> None:
    async with make_harness(settings, fake_clock) as h:
        uid = await h.add_user(name="Admin", admin=True, inner_number="101")
        hook = await h.add_webhook(uid, code="secretcode")
        call_id = await finished_call(h, hook)
        body = err(
            await h.call(
                hook, ATTACH, {"CALL_ID": call_id, "RECORD_URL": f"{pbx}/call-32k-mono.mp3"}
            ),
            400,
            "ERROR_CORE",
        )
        assert body["error_description"].startswith("BLOCKED: 127.0.0.1 is a loopback address")
        h.services.fetcher = build_fetcher(settings.replace(record_url_allowlist="127.0.0.1/32"))
        ok(
            await h.call(
                hook, ATTACH, {"CALL_ID": call_id, "RECORD_URL": f"{pbx}/call-32k-mono.mp3"}
            )
        )


@pytest.fixture
def hook_free() -> None:
    """Marks tests that build their own harness."""
    return None


def test_fixture_list_is_complete() -> None:
    names = {p.name for p in Path(FIXTURES).iterdir() if p.suffix in (".wav", ".mp3")}
    assert names == set(VALID) | set(INVALID)
