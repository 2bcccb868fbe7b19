"""Downloads, uploads and the token endpoint go through the registry like every method:
authentication, scopes, the rate limit and the one error renderer apply to them."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from tests.conftest import FIXTURES, Harness
from tests.helpers import err, ok

WAV = (FIXTURES / "silence-1s.wav").read_bytes()


async def _recording(harness: Harness, hook: str) -> tuple[str, int, str]:
    """A finished call with a recording: (call id, file id, download link path)."""
    call = ok(
        await harness.call(
            hook, "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "5", "TYPE": 2}
        )
    )["result"]["CALL_ID"]
    await harness.call(hook, "telephony.externalCall.finish", {"CALL_ID": call, "USER_ID": 1})
    file_id = ok(
        await harness.call(
            hook,
            "telephony.externalCall.attachRecord",
            {"CALL_ID": call, "FILENAME": "a.wav", "FILE_CONTENT": base64.b64encode(WAV).decode()},
        )
    )["result"]["FILE_ID"]
    info = ok(await harness.call(hook, "disk.file.get", {"id": file_id}))["result"]
    parts = urlsplit(info["DOWNLOAD_URL"])
    return call, file_id, f"{parts.path}?{parts.query}"


async def test_download_needs_the_disk_scope(harness: Harness, hook: str) -> None:
    _, file_id, _ = await _recording(harness, hook)
    narrow = await harness.add_webhook(1, "telephony")
    err(await harness.client.get(f"{narrow}download.json?id={file_id}"), 403, "insufficient_scope")
    response = await harness.client.get(f"{hook}download.json?id={file_id}")
    assert response.status_code == 200 and response.content == WAV


async def test_upload_needs_the_telephony_scope(harness: Harness, hook: str) -> None:
    call, _, _ = await _recording(harness, hook)
    link = ok(
        await harness.call(
            hook, "telephony.externalCall.attachRecord", {"CALL_ID": call, "FILENAME": "b.wav"}
        )
    )["result"]["uploadUrl"]
    token = link.split("token=", 1)[1]
    narrow = await harness.add_webhook(1, "disk")
    response = await harness.client.post(
        f"{narrow}upload/?token={token}", files={"file": ("b.wav", WAV)}
    )
    err(response, 403, "insufficient_scope")


async def test_downloads_and_uploads_count_against_the_rate_limit(
    harness: Harness, hook: str
) -> None:
    call, file_id, link = await _recording(harness, hook)
    limiter = harness.services.rate_limiter
    key = "webhook:1"
    limiter.refuse_next(1, key)
    err(await harness.client.get(f"{hook}download.json?id={file_id}"), 503, "QUERY_LIMIT_EXCEEDED")
    # a signed link counts against the caller it was made for
    limiter.refuse_next(1, key)
    err(await harness.client.get(link), 503, "QUERY_LIMIT_EXCEEDED")
    assert (await harness.client.get(link)).content == WAV
    upload = ok(
        await harness.call(
            hook, "telephony.externalCall.attachRecord", {"CALL_ID": call, "FILENAME": "c.wav"}
        )
    )["result"]["uploadUrl"]
    path = urlsplit(upload)
    limiter.refuse_next(1, key)
    response = await harness.client.post(
        f"{path.path}?{path.query}", files={"file": ("c.wav", WAV)}
    )
    err(response, 503, "QUERY_LIMIT_EXCEEDED")
    assert limiter.pending_refusals() == 0


async def test_endpoints_are_not_batch_commands(harness: Harness, hook: str) -> None:
    response = await harness.call(
        hook, "batch", {"cmd": {"d": "download?id=1", "u": "UPLOAD.json", "b": "batch"}}
    )
    errors = ok(response)["result"]["result_error"]
    assert {k: v["error"] for k, v in errors.items()} == {
        "d": "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "u": "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "b": "ERROR_BATCH_METHOD_NOT_ALLOWED",
    }


async def test_token_endpoint_errors_use_the_one_renderer(harness: Harness) -> None:
    response = await harness.client.post("/oauth/token/", data={"grant_type": "magic"})
    body = err(response, 400, "invalid_request", "Unsupported grant_type")
    assert set(body) == {"error", "error_description"}
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-request-id"]
