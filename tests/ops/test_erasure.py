"""`b24tel erase --phone NUMBER [--dry-run]`: a data subject's erasure request — every call
with the number in any spelling, its recordings and versions, transcripts, the number in
CRM activities, missed calls and journal entries; audited without the number; a run
SIGKILLed midway is finished by the next."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import Text, cast, func, select, update

from b24tel.cli.main import cli
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.crm.models import Activity, ActivityCommunication
from b24tel.db.engine import Database
from b24tel.journal.models import JournalRow
from b24tel.ops.models import Erasure
from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Call, MissedCall, Statistic, Transcript
from tests.api.test_recordings_ops import cli_env
from tests.conftest import Harness, make_harness, reset_database
from tests.ops.test_retention import stored_objects
from tests.web.test_pages import MP3, call, rest

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

NUMBER = "+7 916 000-12-34"
KEY = "79160001234"
ERASED_FILE = "was erased on request (b24tel erase)"


def erase(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner(env=cli_env(settings)).invoke(cli, ["erase", *args])
    return result.exit_code, result.output


async def test_erasure_of_a_number_in_every_spelling(
    harness: Harness, hook: str, settings: Settings
) -> None:
    first = await call(harness, 1, "89160001234", CRM_CREATE=1)  # one number, three spellings
    await rest(
        harness,
        "telephony.externalCall.attachRecord",
        CALL_ID=first,
        FILENAME="second.mp3",
        FILE_CONTENT=MP3,
    )
    await rest(
        harness,
        "telephony.call.attachTranscription",
        CALL_ID=first,
        MESSAGES=[{"SIDE": "Client", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "my number"}],
    )
    second = await call(harness, 1, "+79160001234", file=None, status=304, CRM_CREATE=1)
    # its RECORD_URL fetch was left pending by an instance that died
    async with harness.db.transaction() as s:
        await s.execute(
            update(Statistic)
            .where(Statistic.call_id == second)
            .values(call_record_url="http://127.0.0.1:9/x.mp3", record_fetch_status="pending")
        )
    other = await call(harness, 1, "+7 916 555-00-00", CRM_CREATE=1)
    await harness.services.journal.flush()

    code, out = await asyncio.to_thread(erase, settings, "--phone", NUMBER, "--dry-run")
    assert code == 0, out
    assert f"calls: 2 ({first}, {second})" in out or f"calls: 2 ({second}, {first})" in out
    assert "recording files (every version): 2 (" in out
    assert "transcripts: 1" in out and "missed-call rows: 1" in out
    assert "CRM activities anonymised: 2" in out
    assert "Dry run: nothing was changed." in out
    # the lead the first call created (the second found it) holds the number: named only
    assert "left as they are (edit or delete them in the CRM): lead 1\n" in out
    async with harness.db.transaction(readonly=True) as s:
        assert (await s.execute(select(func.count(Erasure.id)))).scalar_one() == 0
        assert (await s.execute(select(func.count(Transcript.id)))).scalar_one() == 1

    code, out = await asyncio.to_thread(
        erase, settings, "--phone", "8 (916) 000 12 34", "--by", "dpo"
    )
    assert code == 0, out
    assert "Erased the number 8 (916) 000 12 34:" in out
    # the journal holds no request about the calls any more (checked before the requests
    # below, which mention the call again and are journaled in turn)
    async with harness.db.transaction(readonly=True) as s:
        journal = (
            await s.execute(
                select(func.count(JournalRow.id)).where(
                    cast(JournalRow.params, Text).contains(first)
                    | cast(JournalRow.result, Text).contains(first)
                )
            )
        ).scalar_one()
    assert journal == 0
    assert "recording files (every version): 2 (" in out and "transcripts: 1" in out

    stats = await rest(
        harness, "voximplant.statistic.get", FILTER={"CALL_ID": [first, second, other]}
    )
    by_id = {s["CALL_ID"]: s for s in stats}
    assert by_id[first]["PHONE_NUMBER"] == by_id[second]["PHONE_NUMBER"] == "[erased]"
    assert by_id[other]["PHONE_NUMBER"] == "+79165550000"
    # nothing will fetch the erased call's RECORD_URL any more
    assert by_id[second]["CALL_RECORD_URL"] in (None, "")
    assert (by_id[second]["RECORD_FETCH_STATUS"], by_id[second]["RECORD_FETCH_ERROR"]) == (
        "failed",
        "erased",
    )
    gone = (
        await harness.call(hook, "disk.file.get", {"id": by_id[first]["RECORD_FILE_ID"]})
    ).json()
    assert gone["error_description"].endswith(ERASED_FILE)
    assert (
        "result"
        in (
            await harness.call(hook, "disk.file.get", {"id": by_id[other]["RECORD_FILE_ID"]})
        ).json()
    )

    async with harness.db.transaction(readonly=True) as s:
        files = (await s.execute(select(RecordingFile))).scalars().all()
        erased = [f for f in files if f.call_id == first]
        assert len(erased) == 2 and all(f.deleted_reason == "erasure" for f in erased)
        assert (await s.execute(select(func.count(Transcript.id)))).scalar_one() == 0
        assert (await s.execute(select(func.count(MissedCall.id)))).scalar_one() == 0
        acts = (await s.execute(select(Activity))).scalars().all()
        comms = (await s.execute(select(ActivityCommunication))).scalars().all()
        calls = (await s.execute(select(Call))).scalars().all()
        audit = (await s.execute(select(Erasure))).scalars().all()
    assert sorted(c.value for c in comms) == ["+79165550000", "[erased]", "[erased]"]
    assert not any("916 000" in a.subject or "9160001234" in a.subject for a in acts)
    assert sorted(c.caller_id for c in calls) == ["+79165550000", "[erased]", "[erased]"]
    assert len(audit) == 1 and audit[0].finished_at is not None
    assert audit[0].requested_by == "dpo"
    assert audit[0].number_sha256 == hashlib.sha256(KEY.encode()).hexdigest()
    report = audit[0].report
    assert report is not None and sorted(report["calls"]) == sorted([first, second])
    assert KEY not in json.dumps(report) and "000-12-34" not in json.dumps(report)

    # the call's page keeps the call and says why its recording is gone
    from tests.web.test_pages import sign_in

    await sign_in(harness, 1)
    page = (await harness.client.get(f"/calls/{first}")).text
    assert f"The recording {ERASED_FILE}." in page and "9160001234" not in page

    code, out = await asyncio.to_thread(erase, settings, "--phone", NUMBER)
    assert code == 0 and "calls: 0" in out  # nothing is left


async def test_the_number_is_left_nowhere(harness: Harness, hook: str, settings: Settings) -> None:
    """The places an earlier erasure missed: the recording's file name and RECORD_URL, the
    FAILED_REASON, and journal entries whose only link is the number — a searchCrmEntities
    in another spelling, a batch command with the number percent-escaped."""
    number, spelled = "89160005544", "8 (916) 000-55-44"
    registered = await rest(harness, "telephony.externalCall.register", USER_ID=1,
                            PHONE_NUMBER=number, TYPE=2)  # fmt: skip
    call_id = registered["CALL_ID"]
    await rest(harness, "telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1,
               STATUS_CODE=486, FAILED_REASON=f"busy, call back {spelled}")  # fmt: skip
    await rest(harness, "telephony.externalCall.attachRecord", CALL_ID=call_id,
               FILENAME=f"{number}.mp3", FILE_CONTENT=MP3)  # fmt: skip
    await rest(harness, "telephony.externalCall.searchCrmEntities", PHONE_NUMBER=spelled)
    await harness.client.post(
        hook + "batch",
        data={"cmd[a]": "telephony.externalCall.searchCrmEntities?PHONE_NUMBER=%2B7%20916%20"
                        "000%2055%2044"},
    )  # fmt: skip
    await harness.services.journal.flush()
    code, out = await asyncio.to_thread(erase, settings, "--phone", "+7 916 000 55 44")
    assert code == 0, out
    needles = (number, "9160005544", "916 000", "000-55-44", "000%2055%2044", "000 55 44")
    async with harness.db.transaction(readonly=True) as s:
        names = [(f.name, f.source_url) for f in (await s.execute(select(RecordingFile))).scalars()]
        reasons = [st.call_failed_reason for st in (await s.execute(select(Statistic))).scalars()]
        journal = [
            json.dumps([row.url, row.params, row.result])
            for row in (await s.execute(select(JournalRow))).scalars()
        ]
    assert names and reasons and journal is not None
    for text in [json.dumps(names), json.dumps(reasons), *journal]:
        assert not any(n in text for n in needles), text
    assert names[0][0] == "[erased].mp3"
    assert reasons == ["busy, call back [erased]"]


async def test_a_word_is_not_a_number(settings: Settings, harness: Harness) -> None:
    code, out = await asyncio.to_thread(erase, settings, "--phone", "nobody")
    assert code == 1 and "Error: 'nobody' is not a phone number" in out


def test_a_killed_erasure_is_finished_by_the_next(settings: Settings, clock: Clock) -> None:
    total = 40

    async def seed() -> None:
        async with make_harness(settings, clock) as harness:
            uid = await harness.add_user(name="Admin", admin=True, inner_number="101")
            await harness.add_webhook(uid, code="secretcode")
            for i in range(total):
                await call(harness, 1, NUMBER if i % 2 else "89160001234")

    asyncio.run(seed())

    def stored() -> int:
        return stored_objects(settings)

    assert stored() == total
    proc = subprocess.Popen(
        [sys.executable, "-m", "b24tel", "erase", "--phone", NUMBER, "--batch-size", "1"],
        env={**os.environ, **cli_env(settings)},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while stored() > total - 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert 0 < stored() < total

    async def state() -> tuple[int, list[Erasure]]:
        db = Database(settings.effective_database_url)
        async with db.transaction(readonly=True) as s:
            left = (
                await s.execute(
                    select(func.count(Statistic.id)).where(Statistic.phone_normalized == KEY)
                )
            ).scalar_one()
            audit = list((await s.execute(select(Erasure))).scalars())
        await db.dispose()
        return int(left), audit

    left, audit = asyncio.run(state())
    assert 0 < left < total and len(audit) == 1 and audit[0].finished_at is None
    code, out = erase(settings, "--phone", NUMBER)
    assert code == 0, out
    assert stored() == 0
    left, audit = asyncio.run(state())
    assert left == 0 and len(audit) == 1 and audit[0].finished_at is not None  # continued
    assert audit[0].report is not None
    assert len(audit[0].report["calls"]) == total
    assert audit[0].report["recording_files"] == total  # counted once each, killed or not
    result = CliRunner(env=cli_env(settings)).invoke(cli, ["recordings", "verify"])
    assert result.exit_code == 0, result.output

    async def clean() -> None:
        db = Database(settings.effective_database_url)
        await reset_database(db)
        await db.dispose()

    asyncio.run(clean())
