"""A RECORD_URL fetch left pending by an instance that died (SIGKILL, power loss): the next
sweep takes it on — exactly once, however many instances sweep at the same moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from b24tel.app import build_fetcher
from b24tel.telephony import refetch
from b24tel.telephony.models import Statistic
from tests.conftest import FIXTURES, Harness
from tests.helpers import ok

HITS: list[str] = []


class PBX(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        HITS.append(self.path)
        body = (FIXTURES / "call-32k-mono.mp3").read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pbx() -> Iterator[str]:
    HITS.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), PBX)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


async def test_an_abandoned_fetch_is_taken_on_once(harness: Harness, hook: str, pbx: str) -> None:
    services = harness.services
    services.fetcher = build_fetcher(services.settings.replace(record_url_allowlist="127.0.0.1/32"))
    call_id = ok(
        await harness.call(
            hook,
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2},
        )
    )["result"]["CALL_ID"]
    ok(
        await harness.call(
            hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1}
        )
    )
    # what an instance killed in the middle of the download leaves: pending, long ago,
    # and one that another instance took on just now
    url = f"{pbx}/rec.mp3"
    now = services.clock.now()
    long_ago = now - dt.timedelta(seconds=services.settings.record_url_timeout + 61)
    async with harness.db.transaction() as s:
        await s.execute(
            update(Statistic)
            .where(Statistic.call_id == call_id)
            .values(call_record_url=url, record_fetch_status="pending",
                    record_fetch_started_at=long_ago)
        )  # fmt: skip
    busy = ok(
        await harness.call(
            hook,
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+79160005678", "TYPE": 2},
        )
    )["result"]["CALL_ID"]
    ok(await harness.call(hook, "telephony.externalCall.finish", {"CALL_ID": busy, "USER_ID": 1}))
    async with harness.db.transaction() as s:
        await s.execute(
            update(Statistic)
            .where(Statistic.call_id == busy)
            .values(call_record_url=url, record_fetch_status="pending", record_fetch_started_at=now)
        )

    # four instances sweep at the same moment
    taken = await asyncio.gather(*(refetch.resume_abandoned(services) for _ in range(4)))
    assert sorted(c for t in taken for c in t) == [call_id]
    await services.background.join(10)
    assert HITS == ["/rec.mp3"]
    stats = ok(
        await harness.call(
            hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": [call_id, busy]}}
        )
    )["result"]
    rows = {r["CALL_ID"]: r for r in stats}
    assert rows[call_id]["RECORD_FETCH_STATUS"] == "done"
    assert isinstance(rows[call_id]["RECORD_FILE_ID"], int)
    assert rows[busy]["RECORD_FETCH_STATUS"] == "pending"  # its instance is still on it
    assert await refetch.resume_abandoned(services) == []  # nothing left to take


async def test_the_server_sweeps_for_abandoned_fetches(harness: Harness) -> None:
    tasks = harness.app.state.maintenance._tasks
    assert len(tasks) == 1 and not tasks[0].done()  # retention is off; the sweep runs
