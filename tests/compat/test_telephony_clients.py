"""Compat scenarios S1 (fast_bitrix24), S3 (b24pysdk over HTTPS) and S9 (the two-step
upload with curl), plus the S11 envelope invariants over what they recorded."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import subprocess
from pathlib import Path

import httpx
import requests
from b24pysdk import BitrixWebhook, Client
from fast_bitrix24 import Bitrix

from tests.compat.conftest import Live
from tests.conftest import FIXTURES
from tests.helpers import TIME_KEYS

AUDIO = (FIXTURES / "call-32k-mono.mp3").read_bytes()
B64 = base64.b64encode(AUDIO).decode()
CALL_ID = re.compile(r"^externalCall\.[0-9a-f]{32}\.\d+$")


def tls(live: Live) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(live.ca))


def stored_sha1(hook: str, call_id: str, verify: ssl.SSLContext | bool = True) -> str:
    """statistic.get → RECORD_FILE_ID → disk.file.get → DOWNLOAD_URL → the bytes."""
    stat = httpx.post(
        hook + "voximplant.statistic.get", json={"FILTER": {"CALL_ID": call_id}}, verify=verify
    ).json()["result"][0]
    info = httpx.post(
        hook + "disk.file.get", json={"id": stat["RECORD_FILE_ID"]}, verify=verify
    ).json()["result"]
    return hashlib.sha1(httpx.get(info["DOWNLOAD_URL"], verify=verify).content).hexdigest()


def test_s1_fast_bitrix24_round_trip(live: Live) -> None:
    b = Bitrix(live.hook_http, verbose=False)
    r = b.call(
        "telephony.externalCall.register",
        {"USER_ID": 1, "PHONE_NUMBER": "+7 916 000-12-34", "TYPE": 2, "CRM_CREATE": True},
    )
    cid = r["CALL_ID"] if "CALL_ID" in r else next(iter(r.values()))["CALL_ID"]
    assert CALL_ID.match(cid)
    b.call(
        "telephony.externalcall.finish",
        {"CALL_ID": cid, "USER_ID": 1, "DURATION": 42, "STATUS_CODE": "200"},
    )
    att = b.call(
        "telephony.externalCall.attachRecord",
        {"CALL_ID": cid, "FILENAME": "rec.mp3", "FILE_CONTENT": B64},
    )
    # fast_bitrix24 unwraps a one-key result: {"FILE_ID": 7} comes back as 7
    fid = att if isinstance(att, int) else att["FILE_ID"]
    assert isinstance(fid, int)
    assert stored_sha1(live.hook_http, cid) == hashlib.sha1(AUDIO).hexdigest()
    raw = b.call(
        "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "1", "TYPE": 1}, raw=True
    )
    assert set(raw["time"]) == TIME_KEYS
    seen = [(m, p) for m, p, _ in live.http.requests]
    assert ("POST", "/rest/1/secretcode/batch") in seen
    assert any(
        p.endswith("/telephony.externalcall.register")
        or p.endswith("/telephony.externalCall.register")
        for _, p in seen
    )


def test_s3_b24pysdk_typed_telephony_over_https(live: Live) -> None:
    tok = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    c = Client(tok)
    reg = c.telephony.external_call.register(
        phone_number="+79160001234", call_type=2, user_id=1, crm_create=1, show=0
    )
    cid = reg.result["CALL_ID"]
    assert CALL_ID.match(cid)
    assert reg.time.date_start is not None
    fin = c.telephony.external_call.finish(cid, user_id=1, duration=42, status_code="200").result
    assert isinstance(fin["CRM_ACTIVITY_ID"], int)
    att = c.telephony.external_call.attach_record(cid, filename="rec.mp3", file_content=B64).result
    assert isinstance(att["FILE_ID"], int)
    up = c.telephony.external_call.attach_record(cid, filename="rec.mp3").result
    assert up["fieldName"] == "file"
    assert up["uploadUrl"].startswith(f"https://127.0.0.1:{live.https.port}/")
    uploaded = requests.post(
        up["uploadUrl"], files={"file": ("rec.mp3", AUDIO, "application/octet-stream")}, timeout=30
    ).json()
    assert isinstance(uploaded["result"]["FILE_ID"], int)
    assert stored_sha1(live.hook_https, cid, verify=tls(live)) == hashlib.sha1(AUDIO).hexdigest()
    logged = [
        (p, h)
        for _, p, h in live.https.requests
        if p.endswith("/telephony.externalCall.register.json")
    ]
    assert logged and "x-request-id" in logged[0][1]


def test_s9_two_step_upload_with_curl(live: Live, tmp_path: Path) -> None:
    hook = live.hook_https
    b = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    cid = b.call_method(
        "telephony.externalCall.register", {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}
    )["result"]["CALL_ID"]
    b.call_method("telephony.externalCall.finish", {"CALL_ID": cid, "USER_ID": 1, "DURATION": 5})
    rec = tmp_path / "rec.mp3"
    rec.write_bytes(AUDIO)

    def curl(*args: str) -> dict:
        out = subprocess.run(
            ["curl", "-s", "--cacert", str(live.ca), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return json.loads(out.stdout)

    first = curl(
        "-d", f"CALL_ID={cid}&FILENAME=rec.mp3", f"{hook}telephony.externalCall.attachRecord.json"
    )
    assert first["result"]["fieldName"] == "file"
    url = first["result"]["uploadUrl"]
    one = curl("-F", f"file=@{rec};type=application/octet-stream", url)
    assert isinstance(one["result"]["FILE_ID"], int)
    assert stored_sha1(hook, cid, verify=tls(live)) == hashlib.sha1(AUDIO).hexdigest()
    # a second upload to the same URL replaces the recording (before the link expires)
    two = curl("-F", f"file=@{rec};type=application/octet-stream", url)
    assert two["result"]["FILE_ID"] != one["result"]["FILE_ID"]


def test_s11_envelope_invariants(live: Live) -> None:
    """Every answer in a small S1/S3 run: JSON, never 3xx, `time` with 8 keys on success,
    no `error` on success, 5 sections in batches."""
    bodies = []

    def hook(response: httpx.Response) -> None:
        response.read()
        bodies.append(response)

    with httpx.Client(event_hooks={"response": [hook]}, verify=tls(live)) as client:
        cid = client.post(
            live.hook_https + "telephony.externalCall.register",
            json={"USER_ID": 1, "PHONE_NUMBER": "123", "TYPE": 2},
        ).json()["result"]["CALL_ID"]
        client.post(
            live.hook_https + "telephony.externalCall.finish", json={"CALL_ID": cid, "USER_ID": 1}
        )
        client.post(
            live.hook_https + "telephony.externalCall.attachRecord",
            json={"CALL_ID": cid, "FILENAME": "a.mp3", "FILE_CONTENT": B64},
        )
        client.post(live.hook_https + "batch", json={"cmd": {"a": "server.time", "b": "nope"}})
        client.post(live.hook_https + "telephony.externalCall.finish", json={"CALL_ID": cid})
    for response in bodies:
        assert not 300 <= response.status_code < 400
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        if response.status_code < 300:
            assert "error" not in body and set(body["time"]) == TIME_KEYS
            if "result_time" in body["result"]:
                assert list(body["result"]) == [
                    "result",
                    "result_error",
                    "result_total",
                    "result_next",
                    "result_time",
                ]
        else:
            assert set(body) >= {"error", "error_description"}
