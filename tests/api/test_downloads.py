"""disk.file.get and the download endpoint, on both storage backends: whole file, ranges,
416, HEAD, ETag/If-None-Match, signed links (missing, expired, tampered) and REST auth."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from b24tel.clock import FakeClock
from b24tel.config import Settings
from tests.conftest import FIXTURES, Harness, make_harness
from tests.helpers import err, ok

AUDIO = (FIXTURES / "call-8k-mono.wav").read_bytes()
SHA = hashlib.sha256(AUDIO).hexdigest()


@pytest.fixture
async def harness(
    settings: Settings, storage_settings: dict[str, str], fake_clock: FakeClock
) -> AsyncIterator[Harness]:
    async with make_harness(settings.replace(**storage_settings), fake_clock) as h:
        yield h


@pytest.fixture
async def file_url(harness: Harness, hook: str) -> str:
    file_id = await harness.store_recording("call-8k-mono.wav", name='Звонок "1".wav')
    body = ok(await harness.call(hook, "disk.file.get", {"id": file_id}))
    return body["result"]["DOWNLOAD_URL"]


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_disk_file_get(harness: Harness, hook: str) -> None:
    file_id = await harness.store_recording("call-8k-mono.wav", name="rec.wav", call_id="c1")
    r = ok(await harness.call(hook, "disk.file.get", {"id": file_id}))["result"]
    assert r["ID"] == str(file_id) and r["NAME"] == "rec.wav" and r["TYPE"] == "file"
    assert r["SIZE"] == str(len(AUDIO)) and r["SHA256"] == SHA and r["FOLDER"] == "2026-03"
    assert r["AUDIO"]["CODEC"] == "pcm_s16le" and r["AUDIO"]["CHANNELS"] == 1
    assert r["CONTENT_TYPE"] == "audio/wav" and r["CREATED_BY"] == "1" and r["CALL_ID"] == "c1"
    assert r["DOWNLOAD_URL"].startswith("http://testserver/rest/download.json?token=")
    err(
        await harness.call(hook, "disk.file.get", {"id": 999}),
        400,
        "ERROR_NOT_FOUND",
        "Could not find entity with id `999`",
    )
    err(
        await harness.call(hook, "disk.file.get", {"id": "x"}),
        400,
        "ERROR_ARGUMENT",
        "Invalid value of parameter {Parameter #0}",
    )
    limited = await harness.add_webhook(1, scopes="telephony")
    err(await harness.call(limited, "disk.file.get", {"id": file_id}), 403, "insufficient_scope")


async def test_whole_file_and_headers(harness: Harness, file_url: str) -> None:
    response = await harness.client.get(local(file_url))
    assert response.status_code == 200 and response.content == AUDIO
    h = response.headers
    assert h["content-type"] == "audio/wav" and h["content-length"] == str(len(AUDIO))
    assert h["etag"] == f'"{SHA}"' and h["accept-ranges"] == "bytes"
    assert h["content-disposition"] == (
        'attachment; filename="______ _1_.wav"; '
        "filename*=UTF-8''%D0%97%D0%B2%D0%BE%D0%BD%D0%BE%D0%BA%20%221%22.wav"
    )


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=-100", len(AUDIO) - 100, len(AUDIO) - 1),
        ("bytes=100-", 100, len(AUDIO) - 1),
        ("bytes=5-5", 5, 5),
        ("bytes=165000-999999", 165000, len(AUDIO) - 1),
    ],
)
async def test_ranges(harness: Harness, file_url: str, header: str, start: int, end: int) -> None:
    response = await harness.client.get(local(file_url), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == AUDIO[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=999999-", "bytes=200000-300000", "bytes=-0"])
async def test_unsatisfiable_range(harness: Harness, file_url: str, header: str) -> None:
    response = await harness.client.get(local(file_url), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(AUDIO)}"


async def test_head_and_if_none_match(harness: Harness, file_url: str) -> None:
    head = await harness.client.head(local(file_url))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(AUDIO))
    again = await harness.client.get(local(file_url), headers={"If-None-Match": f'"{SHA}"'})
    assert again.status_code == 304 and again.content == b""
    other = await harness.client.get(local(file_url), headers={"If-None-Match": '"abc"'})
    assert other.status_code == 200


async def test_signed_link_refusals(harness: Harness, file_url: str, fake_clock: FakeClock) -> None:
    token = parse_qs(urlsplit(file_url).query)["token"][0]
    payload, mac = token.split(".")
    tampered = f"{payload[:-2]}AA.{mac}"
    err(
        await harness.client.get(f"/rest/download.json?token={tampered}"),
        403,
        "ACCESS_DENIED",
        "Access denied! Link check failed",
    )
    err(
        await harness.client.get(f"/rest/download.json?token={payload}.{mac[:-1]}A"),
        403,
        "ACCESS_DENIED",
    )
    err(await harness.client.get("/rest/download.json"), 401, "NO_AUTH_FOUND")
    fake_clock.advance(86401)
    err(await harness.client.get(local(file_url)), 400, "LINK_EXPIRED")


async def test_download_with_rest_auth(harness: Harness, hook: str) -> None:
    file_id = await harness.store_recording("call-32k-mono.mp3")
    response = await harness.client.get(f"{hook}download.json?id={file_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    assert response.content == (FIXTURES / "call-32k-mono.mp3").read_bytes()
    err(await harness.client.get(f"{hook}download.json?id=999"), 404, "ERROR_NOT_FOUND")
    err(await harness.client.get(f"{hook}download.json"), 400, "ERROR_ARGUMENT")
    err(
        await harness.client.get(f"/rest/1/wrongcode/download.json?id={file_id}"),
        401,
        "INVALID_CREDENTIALS",
    )


async def test_missing_object_is_a_json_404(harness: Harness, hook: str, file_url: str) -> None:
    from b24tel.recordings.models import RecordingFile

    async with harness.db.transaction() as s:
        row = await s.get(RecordingFile, 1)
        await harness.services.recordings.storage.delete(row.storage_key)
    err(await harness.client.get(local(file_url)), 404, "ERROR_NOT_FOUND")


async def test_activity_files_link_downloads(harness: Harness, hook: str) -> None:
    """crm.activity FILES[].url is a working download link (the CRM issue's promise)."""
    import datetime as dt

    from b24tel.crm import calls as activity_service

    cid = ok(await harness.call(hook, "crm.contact.add", {"fields": {"NAME": "A"}}))["result"]
    start = dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
    spec = activity_service.CallActivity(
        call_id="externalCall.f.1",
        subject="s",
        direction=1,
        start=start,
        end=start,
        completed=True,
        responsible_id=1,
        bindings=[(3, cid)],
        phone="1",
        comm_entity=None,
    )
    async with harness.db.transaction() as s:
        aid = await activity_service.create_call_activity(s, spec, start)
    file_id = await harness.store_recording("call-8k-mono.wav")
    async with harness.db.transaction() as s:
        await activity_service.set_recording(s, aid, "externalCall.f.1", file_id)
    files = ok(
        await harness.call(
            hook, "crm.activity.list", {"filter": {"ID": aid}, "select": ["ID", "FILES"]}
        )
    )["result"][0]["FILES"]
    assert files[0]["id"] == file_id
    response = await harness.client.get(local(files[0]["url"]))
    assert response.status_code == 200 and response.content == AUDIO
