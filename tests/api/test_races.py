"""Concurrent identical requests: one call, at most one lead, exactly one finish — in one
process and across two server processes sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import Harness
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

CLIENT = {"USER_ID": 1, "PHONE_NUMBER": "+7 916 555-01-01", "TYPE": 2, "CRM_CREATE": 1}
N = 20


async def _leads(harness: Harness, hook: str) -> list[dict]:
    response = await harness.call(hook, "crm.lead.list", {"select": ["ID"]})
    return response.json()["result"]


async def test_concurrent_identical_registers_make_one_call(harness: Harness, hook: str) -> None:
    answers = await asyncio.gather(
        *(harness.call(hook, "telephony.externalCall.register", CLIENT) for _ in range(N))
    )
    assert [a.status_code for a in answers] == [200] * N
    call_ids = {a.json()["result"]["CALL_ID"] for a in answers}
    assert len(call_ids) == 1
    assert len(await _leads(harness, hook)) == 1


async def test_concurrent_finishes_one_wins(harness: Harness, hook: str) -> None:
    registered = await harness.call(hook, "telephony.externalCall.register", CLIENT)
    call_id = registered.json()["result"]["CALL_ID"]
    answers = await asyncio.gather(
        *(
            harness.call(
                hook,
                "telephony.externalCall.finish",
                {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 30},
            )
            for _ in range(N)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [400] * (N - 1), [a.text for a in answers if a.status_code > 400]
    for answer in answers:
        if answer.status_code == 400:
            assert answer.json()["error_description"].startswith("Call is not found")
    stats = await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": call_id}})
    assert stats.json()["total"] == 1


async def test_concurrent_shows_and_bindings(harness: Harness, hook: str) -> None:
    registered = await harness.call(hook, "telephony.externalCall.register", CLIENT)
    call_id = registered.json()["result"]["CALL_ID"]
    shows = await asyncio.gather(
        *(
            harness.call(hook, "telephony.externalCall.show", {"CALL_ID": call_id, "USER_ID": 1})
            for _ in range(N)
        )
    )
    assert {s.status_code for s in shows} == {200}
    finished = await harness.call(
        hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1}
    )
    activity = finished.json()["result"]["CRM_ACTIVITY_ID"]
    contact = (await harness.call(hook, "crm.contact.add", {"fields": {"NAME": "C"}})).json()[
        "result"
    ]
    binds = await asyncio.gather(
        *(
            harness.call(
                hook,
                "crm.activity.binding.add",
                {"activityId": activity, "entityTypeId": 3, "entityId": contact},
            )
            for _ in range(N)
        )
    )
    statuses = sorted(b.status_code for b in binds)
    assert statuses == [200] + [400] * (N - 1)


# --- two server processes, one PostgreSQL database -------------------------------------------


def _spread(urls: list[str], method: str, params: dict) -> list[httpx.Response]:
    """N requests at once, alternating between the servers."""

    def send(i: int) -> httpx.Response:
        return httpx.post(urls[i % len(urls)] + method, json=params, timeout=30)

    with ThreadPoolExecutor(N) as pool:
        return list(pool.map(send, range(N)))


def test_two_instances_share_one_call_and_one_finish(tmp_path: Path, shared_postgres: str) -> None:
    env = {"B24TEL_DATABASE_URL": shared_postgres}
    with ServeProcess(tmp_path / "a", env=env) as first:
        assert first.hook, first.output
        code_path = first.hook.split("/rest/", 1)[1]
        with ServeProcess(tmp_path / "b", env=env) as second:
            urls = [f"{s.url}/rest/{code_path}" for s in (first, second)]
            answers = _spread(urls, "telephony.externalCall.register", CLIENT)
            assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
            call_ids = {a.json()["result"]["CALL_ID"] for a in answers}
            assert len(call_ids) == 1
            leads = httpx.post(urls[0] + "crm.lead.list", json={}).json()
            assert leads["total"] == 1
            finish = {"CALL_ID": call_ids.pop(), "USER_ID": 1, "DURATION": 12}
            finishes = _spread(urls, "telephony.externalCall.finish", finish)
            assert sorted(f.status_code for f in finishes) == [200] + [400] * (N - 1)
        assert "Traceback" not in first.output + second.output
