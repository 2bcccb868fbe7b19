"""Nothing is left behind by an upload that does not finish: the client going away, a body
over the limit; and the leftovers of a crashed writer are found and removed by command."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.recordings import ops
from b24tel.recordings.ingest import Staging
from tests.conftest import FIXTURES, WEBHOOK_CODE, Harness, make_harness
from tests.helpers import err, ok

HOOK = f"/rest/1/{WEBHOOK_CODE}/"
WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()


@pytest.fixture
async def small_limit(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with make_harness(settings.replace(max_body_size=3_000_000), clock) as h:
        uid = await h.add_user(name="Admin", admin=True)
        await h.add_webhook(uid, code=WEBHOOK_CODE)
        yield h


def leftovers(harness: Harness) -> list[Path]:
    staging = harness.services.recordings.staging_dir
    return sorted(staging.glob("*.part")) if staging.exists() else []


async def upload_link(harness: Harness) -> str:
    call = await harness.call(
        HOOK, "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "555", "TYPE": 2}
    )
    call_id = call.json()["result"]["CALL_ID"]
    await harness.call(HOOK, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1})
    link = await harness.call(
        HOOK, "telephony.externalCall.attachRecord", {"CALL_ID": call_id, "FILENAME": "a.wav"}
    )
    return link.json()["result"]["uploadUrl"].split("://", 1)[1].split("/", 1)[1]


def multipart(data: bytes) -> tuple[bytes, dict[str, str]]:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        + data
        + b"\r\n--B--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=B"}


async def test_client_going_away_mid_upload_leaves_nothing(small_limit: Harness) -> None:
    target = "/" + await upload_link(small_limit)
    body, headers = multipart(WAV * 16)  # ~2.6 MB
    response, read = await small_limit.asgi(
        "POST", target, body=body, headers=headers, disconnect_at=1_500_000
    )
    assert response.status_code == 499 and read >= 1_500_000
    assert leftovers(small_limit) == []


async def test_upload_over_the_limit_leaves_nothing(small_limit: Harness) -> None:
    target = "/" + await upload_link(small_limit)
    body, headers = multipart(WAV * 24)  # ~4 MB > 3 000 000
    response, _ = await small_limit.asgi("POST", target, body=body, headers=headers)
    err(response, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert leftovers(small_limit) == []
    body, headers = multipart(WAV)
    ok((await small_limit.asgi("POST", target, body=body, headers=headers))[0])
    assert leftovers(small_limit) == []


async def test_verify_reports_and_gc_removes_abandoned_writes(harness: Harness) -> None:
    store = harness.services.recordings
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    crashed = store.staging_dir / "ingest-crashed.part"
    crashed.write_bytes(b"x" * 1000)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp()
    os.utime(crashed, (old, old))
    busy = Staging(store.staging_dir)  # a write in progress: never touched
    busy.write(b"y" * 10)
    os.utime(busy.path, (old, old))
    try:
        report = await ops.verify(harness.db, store)
        assert [p for p in report.problems if "interrupted write" in p] == [
            "interrupted write ingest-crashed.part (1000 bytes) left behind; "
            "`b24tel recordings gc` removes it"
        ]
        # the default orphan age (an hour) does not keep the debris
        cleaned = await ops.gc(harness.db, store, retention_days=90, orphan_age=3600)
        assert any("ingest-crashed.part" in a for a in cleaned.actions)
        assert not crashed.exists() and busy.path.exists()
    finally:
        busy.discard()
    assert not busy.path.exists()
