"""The bridge's copy is a call like any other here: the call journal, its page, the CSV
export and `b24tel erase` work on it (the recording versions and the transcript with it)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import pytest
from sqlalchemy import func, select

from b24tel.bridge.models import BridgeItem
from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Statistic
from tests.bridge.test_passthrough import FIXTURES, Connector, bridged

__all__ = ["bridged"]
from tests.conftest import Harness
from tests.ops.test_erasure import erase
from tests.servers import ServeProcess
from tests.web.test_pages import sign_in

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes()).decode()
MP3 = base64.b64encode((FIXTURES / "call-32k-mono.mp3").read_bytes()).decode()


async def test_journal_page_export_and_erasure_work_on_the_copy(
    bridged: tuple[Harness, ServeProcess],
) -> None:
    h, _ = bridged
    await h.add_webhook(await h.add_user(name="Admin", admin=True), code="secretcode")
    c = Connector(h.client, "/rest/1/secretcode/", h.client)
    reg = await c.call("telephony.externalCall.register",
                       {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2})  # fmt: skip
    call_id = reg["CALL_ID"]
    await c.call("telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1,
                                                   "DURATION": 33})  # fmt: skip
    for name, content in (("one.wav", WAV), ("two.mp3", MP3)):
        await c.call("telephony.externalCall.attachRecord",
                     {"CALL_ID": call_id, "FILENAME": name, "FILE_CONTENT": content})  # fmt: skip
    line = {"SIDE": "Client", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "call me back"}
    await c.call("telephony.call.attachTranscription", {"CALL_ID": call_id, "MESSAGES": [line]})

    await sign_in(h, 1)
    for search in ("q=call+me+back", "phone=9160001234"):  # its transcript, its number
        journal = (await h.client.get(f"/calls?{search}")).text
        assert f'data-call-id="{call_id}"' in journal, search
    page = (await h.client.get(f"/calls/{call_id}")).text
    assert "two.mp3" in page and "one.wav" in page and "call me back" in page
    exported = (await h.client.get("/calls.csv")).text
    assert call_id in exported and "+79160001234" in exported

    code, out = await asyncio.to_thread(erase, h.services.settings, "--phone", "+79160001234")
    assert code == 0, out
    async with h.db.transaction(readonly=True) as s:
        left = await s.scalar(select(func.count()).select_from(Statistic)
                              .where(Statistic.phone_number.like("%9160001234%")))  # fmt: skip
        files = (await s.scalars(select(RecordingFile))).all()
    assert left == 0 and files and all(f.deleted_at is not None for f in files)


async def test_the_forwarded_history_is_pruned_and_waiting_writes_are_kept(
    bridged: tuple[Harness, ServeProcess],
) -> None:
    h, _ = bridged
    queue = h.services.bridge.queue  # type: ignore[union-attr]
    now = h.services.clock.now()
    async with h.db.transaction() as s:
        for n, (state, age) in enumerate([("done", 40), ("done", 5), ("failed", 90),
                                          ("queued", 90)]):  # fmt: skip
            at = now - dt.timedelta(days=age)
            s.add(BridgeItem(call_id=f"c{n}", method="telephony.externalcall.finish",
                             params={}, file_path=None, state=state, attempts=1,
                             next_at=at + dt.timedelta(days=99), error=None, created_at=at,
                             done_at=at if state != "queued" else None))  # fmt: skip
    assert await queue.prune(30) == 1
    async with h.db.transaction(readonly=True) as s:
        left = sorted((await s.execute(select(BridgeItem.call_id))).scalars())
    assert left == ["c1", "c2", "c3"]
