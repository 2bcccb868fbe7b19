"""PHP-compatible JSON and the time block (docs/reference/protocol.md, "Envelope")."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from b24tel.rest import envelope
from b24tel.rest.envelope import ListResult, Timing, encode_json, success_body


def test_php_escapes() -> None:
    out = encode_json({"u": "https://a/b?x=1&y=<z>'", "q": 'say "hi"', "bs": "a\\"})
    assert out == (
        b'{"u":"https:\\/\\/a\\/b?x=1\\u0026y=\\u003Cz\\u003E\\u0027",'
        b'"q":"say \\u0022hi\\u0022","bs":"a\\\\"}'
    )
    assert json.loads(out) == {"u": "https://a/b?x=1&y=<z>'", "q": 'say "hi"', "bs": "a\\"}


def test_non_ascii_is_raw_utf8_and_empty_map_is_list() -> None:
    assert encode_json({"n": "Иван", "e": {}}) == '{"n":"Иван","e":[]}'.encode()


def test_whole_floats_print_without_fraction() -> None:
    assert encode_json({"a": 0.0, "b": 2.0, "c": 0.25}) == b'{"a":0,"b":2,"c":0.25}'


def test_time_block_types() -> None:
    t = Timing(start=1700000000.75, handler_start=1700000000.8, handler_end=1700000001.1)
    block = t.block(1700000001.2, ZoneInfo("Europe/Berlin"))
    assert block["start"] == 1700000000 and isinstance(block["start"], int)
    assert isinstance(block["finish"], float) and isinstance(block["duration"], float)
    assert block["processing"] == 1 and isinstance(block["processing"], int)
    assert block["date_start"] == "2023-11-14T23:13:20+01:00"
    assert block["operating_reset_at"] == 1700000600 and block["operating"] == 0
    assert set(block) == {
        "start",
        "finish",
        "duration",
        "processing",
        "date_start",
        "date_finish",
        "operating_reset_at",
        "operating",
    }


def test_list_envelope_hoists_next_and_total() -> None:
    body = success_body(ListResult.page(list(range(50)), 120, 50), {"t": 1})
    assert list(body) == ["result", "next", "total", "time"]
    assert body["next"] == 100 and body["total"] == 120
    last = success_body(ListResult.page([1], 51, 50), None)
    assert "next" not in last and last["total"] == 51
    uncounted = success_body(ListResult.page([1], None, 0), None)
    assert "next" not in uncounted and uncounted["total"] == 0


def test_an_answer_with_nothing_to_escape_skips_the_escape_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refused:
        def sub(self, *args: object) -> str:
            raise AssertionError("the escape pass ran")

    plain = {"CALL_ID": "externalCall.ab12.1", "ID": 2, "DATE": "2026-12-07T18:00:00+03:00"}
    expected = encode_json(plain)
    monkeypatch.setattr(envelope, "_ESCAPE_RE", Refused())
    assert encode_json(plain) == expected
    for special in ("a/b", "<", ">", "&", "'", 'say "hi"', "line\nbreak"):
        with pytest.raises(AssertionError):
            encode_json({"v": special})
