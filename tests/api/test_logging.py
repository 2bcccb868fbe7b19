"""What the server logs: one structured access line per request with a request id and the
caller's id, never a webhook code, token or secret — in text and in JSON."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.servers import ServeProcess, wait_for

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = base64.b64encode((FIXTURES / "silence-1s.wav").read_bytes()).decode()


def _traffic(server: ServeProcess) -> list[str]:
    """A connector's day in miniature; returns every secret it used."""
    hook = server.hook
    code = hook.rstrip("/").rsplit("/", 1)[1]
    call = httpx.post(
        hook + "telephony.externalCall.register",
        json={"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2},
    ).json()["result"]["CALL_ID"]
    httpx.post(hook + "telephony.externalCall.finish", json={"CALL_ID": call, "USER_ID": 1})
    link = httpx.post(
        hook + "telephony.externalCall.attachRecord", json={"CALL_ID": call, "FILENAME": "a.wav"}
    ).json()["result"]["uploadUrl"]
    upload_token = re.search(r"token=([^&]+)", link).group(1)  # type: ignore[union-attr]
    stored = httpx.post(link, files={"file": ("a.wav", base64.b64decode(WAV))}).json()
    info = httpx.post(hook + "disk.file.get", json={"id": stored["result"]["FILE_ID"]}).json()
    download = info["result"]["DOWNLOAD_URL"]
    download_token = download.rsplit("token=", 1)[1]
    httpx.get(download)
    httpx.get(f"{server.url}/rest/profile.json?auth=invalidtoken12345")
    httpx.get(f"{server.url}/rest/profile.json", params={"access_token": "anothertoken6789"})
    httpx.post(
        f"{server.url}/oauth/token/",
        params={"grant_type": "authorization_code", "client_id": "local.x", "code": "oauthcode42"},
        data={"client_secret": "clientsecret99"},
    )
    httpx.get(
        f"{server.url}/oauth/token/?grant_type=refresh_token&refresh_token=refresh77&client_secret=cs88"
    )
    httpx.post(hook + "no.such.method", json={})
    # spellings that once reached the log (tests/api/test_secrets.py has them all)
    httpx.get(hook.rstrip("/"))
    httpx.get(f"{server.url}/REST//1/{code}/server.time")
    httpx.get(f"{server.url}/rest/server.time?%61uth=spelledtoken55&x=1%26auth%3Dnested66")
    return [code, upload_token, download_token, "invalidtoken12345", "anothertoken6789",
            "oauthcode42", "refresh77", "cs88", "spelledtoken55", "nested66"]  # fmt: skip


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_the_log(tmp_path: Path, fmt: str) -> None:
    with ServeProcess(tmp_path / "data", env={"B24TEL_LOG_FORMAT": fmt}) as server:
        secrets = _traffic(server)
        requests_sent = 14
        access = lambda: [x for x in server.lines if "b24tel.access" in x]  # noqa: E731
        assert wait_for(lambda: len(access()) >= requests_sent), server.output
    log = server.output.replace(server.hook, "")  # the first-start banner shows it, once
    for secret in secrets:
        assert secret not in log, (secret, log)
    lines = access()
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert all(r["logger"] == "b24tel.access" for r in records)
        register = next(r for r in records if "register" in r["message"])
        assert register["method"] == "telephony.externalCall.register"
        assert register["caller"] == "webhook:1" and register["status"] == 200
        assert re.fullmatch(r"[0-9a-f]{16}", register["request_id"])
        assert "/rest/1/***/" in register["message"]
    else:
        register = next(line for line in lines if "register" in line)
        assert "/rest/1/***/" in register and "caller=webhook:1" in register
        assert re.search(r"request_id=[0-9a-f]{16}", register)
        assert "method=telephony.externalCall.register" in register
