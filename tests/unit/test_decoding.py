"""Request decoding: merging, encodings, large values streamed from the spooled body."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b24tel.errors import ApiError
from b24tel.rest import spool
from b24tel.rest.decoding import LargeValue, decode_request

LAZY = frozenset({("FILE_CONTENT",), ("FILE_CONTENT", 1)})


async def stream(data: bytes, chunk: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def decode(qs: str, ctype: str, body: bytes, limit: int = 10**9, lazy=LAZY):
    return await decode_request(qs, ctype, stream(body), limit, lazy)


async def test_query_and_json_merge_top_level() -> None:
    d = await decode("a=1&b[x]=1&auth=t", "application/json", b'{"b": {"y": 2}, "c": null}')
    assert d.params == {"a": "1", "b": {"y": 2}, "auth": "t"}


async def test_invalid_json_body_is_ignored() -> None:
    d = await decode("a=1", "application/json", b"{not json")
    assert d.params == {"a": "1"}


async def test_form_body_php_style() -> None:
    d = await decode("", "application/x-www-form-urlencoded", b"fields[NAME]=A+B&fields[X]=%2B1")
    assert d.params == {"fields": {"NAME": "A B", "X": "+1"}}


async def test_body_without_content_type_is_a_query_string() -> None:
    d = await decode("", "", b"a=1&b[]=2")
    assert d.params == {"a": "1", "b": ["2"]}


async def test_body_over_limit_is_413() -> None:
    with pytest.raises(ApiError) as err:
        await decode("", "application/json", b"x" * 5000, limit=1000)
    assert err.value.status == 413


def _payload(size: int) -> tuple[bytes, str]:
    raw = os.urandom(size)
    return raw, base64.b64encode(raw).decode()


async def test_large_json_string_stays_lazy_and_decodes_exactly() -> None:
    raw, b64 = _payload(900_000)
    # PHP-style escaped slashes inside the big string
    body = (
        '{"CALL_ID":"c1","FILE_CONTENT":"' + b64.replace("/", "\\/") + '","X":"a\\"b"}'
    ).encode()
    d = await decode("", "application/json", body)
    value = d.params["FILE_CONTENT"]
    assert isinstance(value, LargeValue)
    assert base64.b64decode(b"".join(value.iter_bytes())) == raw
    assert d.params["X"] == 'a"b' and d.params["CALL_ID"] == "c1"


async def test_large_json_string_outside_lazy_paths_is_materialised() -> None:
    _, b64 = _payload(400_000)
    d = await decode("", "application/json", json.dumps({"OTHER": b64}).encode())
    assert d.params["OTHER"] == b64


async def test_large_json_array_form() -> None:
    raw, b64 = _payload(500_000)
    body = json.dumps({"FILE_CONTENT": ["rec.mp3", b64]}).encode()
    d = await decode("", "application/json", body)
    name, value = d.params["FILE_CONTENT"]
    assert name == "rec.mp3" and isinstance(value, LargeValue)
    assert base64.b64decode(b"".join(value.iter_bytes())) == raw


@pytest.mark.parametrize("chunk", [1, 7, 65536, spool.CHUNK + 3])
async def test_json_unescape_across_chunks(chunk: int) -> None:
    text = "ab\\/c\\\\d\\u00e9\\n" * 50
    expected = json.loads('"' + text + '"').encode()
    raw = text.encode()
    chunks = iter([raw[i : i + chunk] for i in range(0, len(raw), chunk)])
    assert b"".join(spool.json_unescape(chunks)) == expected


async def test_large_form_value_lazy_with_plus_and_percent() -> None:
    raw, b64 = _payload(600_000)
    body = ("CALL_ID=c1&FILENAME=a.mp3&FILE_CONTENT=" + quote(b64, safe="")).encode()
    d = await decode("", "application/x-www-form-urlencoded", body)
    value = d.params["FILE_CONTENT"]
    assert isinstance(value, LargeValue)
    assert base64.b64decode(b"".join(value.iter_bytes())) == raw
    assert d.params["CALL_ID"] == "c1"


async def test_multipart_fields_and_file() -> None:
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="CALL_ID"\r\n\r\nc1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="select[]"\r\n\r\nID\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.mp3"\r\n'
            f"Content-Type: audio/mpeg\r\n\r\n"
        ).encode()
        + b"\x00\x01DATA"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    d = await decode("", f"multipart/form-data; boundary={boundary}", body)
    assert d.params["CALL_ID"] == "c1" and d.params["select"] == ["ID"]
    upload = d.params["file"]
    assert upload.filename == "r.mp3" and b"".join(upload.iter_bytes()) == b"\x00\x01DATA"
    d.close()


async def test_large_form_value_beyond_one_chunk() -> None:
    raw, b64 = _payload(3 * 1024 * 1024)
    body = ("A=1&FILE_CONTENT=" + quote(b64, safe="") + "&Z=2").encode()
    d = await decode("", "application/x-www-form-urlencoded", body)
    assert base64.b64decode(b"".join(d.params["FILE_CONTENT"].iter_bytes())) == raw
    assert d.params["A"] == "1" and d.params["Z"] == "2"


@pytest.mark.parametrize(
    "text", ["a+b%2Bc%2fd%3D", "%252B%2B%25", "x%41%42%2b%3d%3D+", "plain", "A%252B%252F%253Dz%25"]
)
def test_form_unescape_matches_unquote_plus(text: str) -> None:
    from urllib.parse import unquote_to_bytes

    expected = unquote_to_bytes(text.replace("+", " "))
    for size in (1, 2, 3, 5, 100):
        raw = text.encode()
        chunks = iter([raw[i : i + size] for i in range(0, len(raw), size)])
        assert b"".join(spool.form_unescape(chunks)) == expected


@pytest.mark.parametrize("text", [b"%41%42%43" * 7, b"ab%2" + b"%25" * 9, b"%%41%4", b"x" * 20])
def test_slices_never_cut_an_escape(text: bytes) -> None:
    from urllib.parse import unquote_to_bytes

    for size in (3, 4, 5, 7):
        pieces = list(spool._slices(text, size))
        assert b"".join(pieces) == text
        assert b"".join(unquote_to_bytes(p) for p in pieces) == unquote_to_bytes(text)


async def test_a_large_value_read_to_its_end_keeps_its_fingerprint() -> None:
    """What the request journal keeps of a big value (its size and sha256, as sent) is taken
    while the method reads it, so the journal does not read the body a second time."""
    raw, b64 = _payload(1_500_000)  # more than one chunk
    body = ("CALL_ID=c1&FILE_CONTENT=" + quote(b64, safe="")).encode()
    d = await decode("", "application/x-www-form-urlencoded", body)
    value = d.params["FILE_CONTENT"]
    assert isinstance(value, LargeValue)
    b"".join(value.iter_bytes())
    assert value.fingerprint is None  # nobody asked for one
    d.fingerprint_large_values()
    chunks = value.iter_bytes()
    first = next(chunks)
    assert value.fingerprint is None  # not read through yet
    assert first + b"".join(chunks) == b64.encode()
    assert value.fingerprint == spool.Fingerprint(
        len(b64), hashlib.sha256(b64.encode()).hexdigest()
    )
    # later reads hand out the same bytes without hashing them again
    assert base64.b64decode(b"".join(value.iter_bytes())) == raw


FORM_PIECES = [b"%", b"2", b"B", b"b", b"f", b"3", b"D", b"=", b"+", b" ", b"\n", b"\r",
               b"\t", b"_", b"g", b"%25", b"%2B", b"%e9", b"\xe9", b"A", b"/"]  # fmt: skip


def test_form_unescape_is_percent_decoding_for_every_short_form() -> None:
    """Every sequence of up to three pieces (9 723 of them): each escape cut short or
    run together with the next, at the start, the middle and the end."""
    for size in range(4):
        for pieces in itertools.product(FORM_PIECES, repeat=size):
            data = b"".join(pieces)
            assert spool.unquote_form(data) == unquote_to_bytes(data.replace(b"+", b" ")), data


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(FORM_PIECES), max_size=40).map(b"".join))
def test_form_unescape_is_exactly_percent_decoding(data: bytes) -> None:
    assert spool.unquote_form(data) == unquote_to_bytes(data.replace(b"+", b" "))
