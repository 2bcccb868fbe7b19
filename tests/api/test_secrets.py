"""A secret sent in any spelling reaches neither the log nor the request journal: each request
below carries its own secret, and after the run neither the raw log records (before the
formatter's last redaction pass) nor any journal entry holds one."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest

from b24tel import logs
from tests.conftest import ISSUED_SECRETS, WEBHOOK_CODE, Harness
from tests.toolkit.test_journal import entries

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


def _secret(n: int) -> str:
    value = f"Sx{n:02d}qv7"
    ISSUED_SECRETS.add(value)  # the whole run's log is scanned for these too
    return value


# (HTTP method, target as the client writes it, content type, body); {s} is the secret
SPELLINGS: list[tuple[str, str, str, str]] = [
    ("GET", "/rest/1/{s}", "", ""),
    ("GET", "/rest/1/{s}.json", "", ""),
    ("GET", "/rest/1/{s}?x=1", "", ""),
    ("GET", "/rest//1/{s}/server.time", "", ""),
    ("GET", "/REST/1/{s}/server.time", "", ""),
    ("GET", "/rest/1/{s}/", "", ""),
    ("GET", "/rest/1%2F{s}/server.time", "", ""),
    ("GET", "/rest/1/{s}%2Fserver.time", "", ""),
    ("GET", "/rest/server.time?%61uth={s}", "", ""),
    ("GET", "/rest/server.time?auth[0]={s}", "", ""),
    ("GET", "/rest/server.time?auth%5B%5D={s}", "", ""),
    ("GET", "/rest/server.time?x[auth]={s}", "", ""),
    ("GET", "/rest/server.time?x=1%26auth%3D{s}", "", ""),
    ("GET", "/rest/server.time?ACCESS_TOKEN={s}", "", ""),
    ("GET", "/rest/server.time?access.token={s}", "", ""),
    ("GET", "/rest/server.time?+auth={s}", "", ""),
    ("GET", "/rest/profile.json?auth={s}&x=http%3A%2F%2Fu%3A{s}%40h%2F", "", ""),
    ("GET", HOOK + "batch?cmd[a]=server.time%3Fauth%3D{s}", "", ""),
    ("GET", HOOK + "batch?cmd[a]=server.time%3F%2561uth%3D{s}", "", ""),
    ("POST", HOOK + "batch", "application/x-www-form-urlencoded",
     "cmd%5Ba%5D=server.time%3Fauth%3D{s}&halt=0"),
    ("POST", HOOK + "batch", "application/json", '{{"cmd": {{"a": "user.get?auth={s}"}}}}'),
    ("POST", "/rest/server.time", "application/json", '{{"auth": "{s}"}}'),
    ("POST", "/rest/server.time", "application/x-www-form-urlencoded", "auth={s}"),
    ("POST", HOOK + "user.get", "application/json", '{{"filter": {{"auth": "{s}"}}}}'),
    ("POST", HOOK + "user.get", "application/json", '{{"x": "http://h/rest/1/{s}/a"}}'),
    ("POST", "/rest/server.time", "multipart/form-data; boundary=B",
     '--B\r\nContent-Disposition: form-data; name="auth"\r\n\r\n{s}\r\n--B--\r\n'),
    ("GET", "/rest/download.json?token={s}", "", ""),
    ("GET", "/rest/upload.json?token={s}", "", ""),
    ("POST", "/oauth/token/?client_secret={s}&refresh_token={s}&grant_type=refresh_token",
     "", ""),
    ("GET", "/login/link?token={s}", "", ""),
]  # fmt: skip


class _Raw(logging.Handler):
    """Every record as the code logged it, without the formatter's redaction."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + " " + repr(logs.extras(record))
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def raw_log() -> Iterator[_Raw]:
    handler = _Raw()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def test_no_spelling_of_a_secret_reaches_the_log_or_the_journal(
    harness: Harness, hook: str, raw_log: _Raw
) -> None:
    sent = []
    for n, (verb, target, ctype, body) in enumerate(SPELLINGS):
        secret = _secret(n)
        target = target.replace("{s}", quote(secret))
        path, _, query = target.partition("?")
        # as a server hands it over: the path percent-decoded, the query as sent
        decoded = unquote(path) + (f"?{query}" if query else "")
        headers = {"content-type": ctype} if ctype else {}
        data = body.format(s=secret).encode()
        answer, _ = await harness.asgi(verb, decoded, body=data, headers=headers)
        assert answer.status_code < 500, (target, answer.text)
        sent.append((secret, target, answer.status_code))
    journal = json.dumps([
        {k: v for k, v in vars(e).items() if not k.startswith("_")} for e in await entries(harness)
    ], default=str)  # fmt: skip
    log = "\n".join(raw_log.lines)
    leaks = [(t, status) for secret, t, status in sent if secret in journal or secret in log]
    assert leaks == []
    # and each request was seen: logged, and journaled where the journal keeps it
    assert sum("b24tel.access" in line or "status" in line for line in raw_log.lines) >= len(sent)
    assert journal.count('"url"') >= len(sent) - 4  # pages and the admin API are not journaled
