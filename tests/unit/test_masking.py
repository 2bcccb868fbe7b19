"""Masking secrets on decoded data (b24tel.masking) and the log's last redaction pass
(b24tel.logs): every spelling is caught, nothing else changes, and every pattern and masking
function is linear on hostile input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from b24tel import logs, masking
from b24tel.rest.journal import sanitize

S = "Zq9secret"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"/rest/1/{S}", ""),
        (f"/rest/1/{S}/", ""),
        (f"/rest/1/{S}.json", ""),
        (f"/rest/1/{S}", "x=1"),
        (f"/rest//1/{S}/server.time", ""),
        (f"/REST/1/{S}/server.time", ""),
        (f"/Rest/1//{S}//user.get.json/", ""),
        (f"/%72est/1/{S}/server.time", ""),
        (f"/rest/1/{S}/extra/server.time", ""),
        ("/rest/server.time", f"auth={S}"),
        ("/rest/server.time", f"%61uth={S}"),
        ("/rest/server.time", f"AUTH={S}"),
        ("/rest/server.time", f"auth[0]={S}"),
        ("/rest/server.time", f"auth%5B%5D={S}"),
        ("/rest/server.time", f"x[auth]={S}"),
        ("/rest/server.time", f"x%5Bauth%5D={S}"),
        ("/rest/server.time", f"+auth={S}"),
        ("/rest/server.time", f"access.token={S}"),
        ("/rest/server.time", f"x=1%26auth%3D{S}"),
        ("/rest/server.time", f"x=1%2526auth%253D{S}"),
        ("/rest/batch", f"cmd[a]=server.time%3Fauth%3D{S}"),
        ("/rest/batch", f"cmd[a]=server.time%3F%2561uth%3D{S}"),
        ("/rest/batch", f"cmd%5Ba%5D=user.get%3FID%3D1%26access_token%3D{S}"),
        ("/rest/x", f"u=https%3A%2F%2Fuser%3A{S}%40pbx.example%2Fa.wav"),
        ("/rest/x", f"u=https%3A%2F%2F{S}%40pbx.example%2Fa.wav"),
        ("/rest/x", f"u=http%3A%2F%2Fh%2Frest%2F1%2F{S}%2Fserver.time"),
        ("/rest/x", f"u=http%3A%2F%2Fh%2Fa%23access_token%3D{S}"),
        ("/rest/download.json", f"token={S}"),
        ("/oauth/token/", f"client_secret={S}&refresh_token={S}&code={S}"),
    ],
)
def test_every_spelling_is_masked(path: str, query: str) -> None:
    shown = masking.shown_target(path, query)
    assert S not in shown, shown
    assert "***" in shown


def test_what_is_not_secret_stays_as_the_client_wrote_it() -> None:
    for path, query in [
        ("/rest/server.time", ""),
        ("/rest/1/***/server.time", ""),
        ("/rest/crm.lead.list/", "filter%5BID%5D=1&select[]=ID"),
        ("/calls", "phone=%2B7916&status=missed"),
        ("/rest/batch", "cmd[a]=user.get%3FID%3D1"),
        ("/rest/x", "u=https%3A%2F%2Fpbx.example%2Fa.wav%3Fid%3D7"),
    ]:
        expected = f"{path}?{query}" if query else path
        assert masking.shown_target(path, query) == expected


def test_a_long_url_is_cut_before_any_work_and_says_how_long() -> None:
    query = "a=1&" + "x" * 1_000_000 + f"&auth={S}"
    shown = masking.shown_target("/rest/server.time", query)
    assert len(shown) < masking.MAX_SHOWN + 40
    assert shown.endswith(f"…[{len('/rest/server.time') + 1 + len(query)} chars]")
    assert S not in shown and "x" * 100 not in shown  # the cut piece is dropped whole
    cut = masking.shown_target(f"/rest/1/{S}{'y' * 5000}/server.time", "")
    assert S not in cut


def test_journal_values_are_masked_by_name_and_inside_urls() -> None:
    params = {
        "cmd": {"a": f"server.time?auth={S}", "b": f"user.get?%61uth={S}"},
        "x": {"AUTH": S, "deep": [{"refresh_token": S}]},
        "RECORD_URL": f"https://u:{S}@pbx.example/a.wav",
        "note": "plain text with = sign",
    }
    kept = sanitize(params)
    assert S not in repr(kept), kept
    assert kept["note"] == "plain text with = sign"


def test_the_log_pass_masks_the_forms_it_knows() -> None:
    text = (
        "GET /rest/7/s3cr3tcode/user.get?auth=tok1&x=1 /rest/upload.json?token=tok2 "
        "/REST//8/s3cr3tcode2 /oauth/token/?client_secret=cs&code=oc&refresh_token=rt "
        'https://user:pa55@pbx.example/x.wav ssh://tok4@host "access_token=tok3"'
    )
    redacted = logs.redact(text)
    for secret in ("s3cr3tcode", "tok1", "tok2", "tok3", "tok4", "cs&", "=oc", "rt ", "pa55"):
        assert secret not in redacted, (secret, redacted)
    assert "/rest/7/***/user.get" in redacted and "x=1" in redacted
    assert logs.redact(redacted) == redacted
    assert logs.redact("/rest/crm.lead.list/ and /rest/telephony.externalcall.register") == (
        "/rest/crm.lead.list/ and /rest/telephony.externalcall.register"
    )


# one megabyte of each: single characters of every class the patterns look at, and the
# pieces of what they match repeated without ever completing a match
UNITS = ["a", "Z", "0", "_", "-", ".", "+", "/", "\\\\", ":", "@", "=", "&", "?", "#", "%",
         "[", "]", "*", " ", "\\t", '"', "'", "(", ";", ",", "é", "/rest/", "/rest/a/", "a=",
         "auth=", "=a&", "a://", "a:@", "a://b:", "%25", "%3D", "a[", "auth[",
         "/%72est/1/"]  # fmt: skip
FUNCTIONS = [*(f"logs.PATTERNS[{i}].sub" for i in range(len(logs.PATTERNS))), "masking.mask_text",
             "masking.mask_query", "masking.mask_path", "masking.is_secret_name",
             "masking.shown_target"]  # fmt: skip


def test_every_pattern_and_masking_function_is_linear_on_a_megabyte() -> None:
    """Run in a child process that must finish: a quadratic pattern takes hours on a
    megabyte (the old userinfo pattern froze the server on 100 KB), a linear one a fraction
    of a second; the timeout only tells the two apart, it measures nothing."""
    script = textwrap.dedent(
        f"""
        from b24tel import logs, masking
        units = {UNITS!r}
        calls = {{
            "logs.PATTERNS[0].sub": lambda s: logs.PATTERNS[0].sub("x", s),
            "logs.PATTERNS[1].sub": lambda s: logs.PATTERNS[1].sub("x", s),
            "logs.PATTERNS[2].sub": lambda s: logs.PATTERNS[2].sub("x", s),
            "masking.mask_text": masking.mask_text,
            "masking.mask_query": masking.mask_query,
            "masking.mask_path": masking.mask_path,
            "masking.is_secret_name": masking.is_secret_name,
            "masking.shown_target": lambda s: masking.shown_target(s, s),
        }}
        assert sorted(calls) == sorted({FUNCTIONS!r})
        for unit in units:
            text = unit * (1_000_000 // len(unit))
            for name, call in calls.items():
                call(text)
        print("ok", len(units) * len(calls))
        """
    )
    assert len(logs.PATTERNS) == 3
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", str(len(UNITS) * len(FUNCTIONS))]
