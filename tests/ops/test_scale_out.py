"""Scale-out: two `b24tel serve` processes on one PostgreSQL database and one S3 bucket
(a moto server on 127.0.0.1), with a connector's traffic spread over both."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import httpx
import pytest

from tests.api.test_races import _spread
from tests.conftest import FIXTURES, s3_settings
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()
BURST = 100  # the shared request-rate bucket (drains 0.01/s: a refill does not matter here)


def test_two_instances_on_postgresql_and_s3(
    shared_postgres: str, moto_endpoint: str, tmp_path: Path
) -> None:
    storage = s3_settings(moto_endpoint, f"b24tel-{secrets.token_hex(4)}")
    env = {f"B24TEL_{k.upper()}": v for k, v in storage.items()}
    env |= {
        "B24TEL_DATABASE_URL": shared_postgres,
        "B24TEL_RATE_LIMIT": "custom",
        "B24TEL_RATE_LIMIT_BURST": str(BURST),
        "B24TEL_RATE_LIMIT_DRAIN": "0.01",
    }
    with (
        ServeProcess(tmp_path / "a", env=env) as first,
        ServeProcess(tmp_path / "b", env=env) as second,
    ):
        code = first.hook.split("/rest/", 1)[1]
        a, b = f"{first.url}/rest/{code}", f"{second.url}/rest/{code}"
        sent = 0

        def call(base: str, method: str, **params: object) -> dict:  # type: ignore[type-arg]
            nonlocal sent
            sent += 1
            answer = httpx.post(base + method, json=params, timeout=30).json()
            assert "error" not in answer, answer
            return answer["result"]  # type: ignore[no-any-return]

        # register on one, finish on the other, attach on the first, download from the second
        call_id = call(
            a, "telephony.externalCall.register", USER_ID=1, PHONE_NUMBER="+7 916 555-02-02", TYPE=2
        )["CALL_ID"]
        finished = call(b, "telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1, DURATION=10)
        assert finished["CALL_ID"] == call_id
        attached = call(
            a,
            "telephony.externalCall.attachRecord",
            CALL_ID=call_id,
            FILENAME="call.wav",
            FILE_CONTENT=base64.b64encode(WAV).decode(),
        )
        whole = httpx.get(f"{b}download.json", params={"id": attached["FILE_ID"]})
        sent += 1
        assert whole.status_code == 200 and whole.content == WAV
        part = httpx.get(
            f"{b}download.json",
            params={"id": attached["FILE_ID"]},
            headers={"range": "bytes=100-199"},
        )
        sent += 1
        assert part.status_code == 206 and part.content == WAV[100:200]
        [row] = call(b, "voximplant.statistic.get", FILTER={"CALL_ID": call_id})
        assert row["RECORD_FILE_ID"] == attached["FILE_ID"]

        # identical registers at once, spread over both: one call
        answers = _spread(
            [a, b],
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+7 916 555-03-03", "TYPE": 2},
        )
        sent += len(answers)
        assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
        assert len({r.json()["result"]["CALL_ID"] for r in answers}) == 1

        # the rate limit is the portal's: both instances drain one bucket
        refused = {a: False, b: False}
        while not all(refused.values()) and sent < 3 * BURST:
            for base in (a, b):
                sent += 1
                answer = httpx.post(base + "server.time")
                if answer.status_code == 503:
                    assert answer.json()["error"] == "QUERY_LIMIT_EXCEEDED"
                    refused[base] = True
        accepted = sent - sum(refused.values())
        assert all(refused.values()) and accepted <= BURST + 2, (sent, refused)
        assert "Traceback" not in first.output + second.output
