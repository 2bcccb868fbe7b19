"""The JSON body's shape check (``b24tel.rest.jsonbody.check_shape``): its quick path, on the
document as it is, refuses exactly what the exact one (strings taken out) refuses, and
finds every integer too long for 64 bits that the exact one finds."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b24tel.errors import ApiError
from b24tel.rest import jsonbody
from b24tel.simulate import wav
from b24tel.wire.phpquery import InputLimits

LIMITS = InputLimits(max_vars=40, max_depth=6)
SEPARATORS = st.sampled_from([(",", ":"), (", ", ": "), (",\n ", " :\t")])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet='abc:,[]{}"\\0123456789 -', max_size=30),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.text(alphabet="ab:,[1", max_size=4), inner, max_size=6)
    ),
    max_leaves=30,
)


def outcome(check: Any, document: bytes) -> tuple[str, bool | None]:
    try:
        return "ok", check(document, LIMITS)
    except ApiError as exc:
        return f"{exc.code}: {exc.description}", None


def decoded(document: bytes, long_ints: bool) -> Any:
    return json.loads(document, parse_int=jsonbody._php_int if long_ints else None)


@settings(max_examples=150, deadline=None)
@given(documents, SEPARATORS, st.booleans())
def test_the_quick_path_refuses_and_decodes_as_the_exact_one(
    value: Any, separators: tuple[str, str], bom: bool
) -> None:
    document = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(value, separators=separators).encode()
    quick, exact = outcome(jsonbody.check_shape, document), outcome(jsonbody._exact_shape, document)
    assert quick[0] == exact[0]
    if quick[0] == "ok":
        # the exact check also flags digits in fractions; what counts is the same document
        assert repr(decoded(document, bool(quick[1]))) == repr(decoded(document, bool(exact[1])))


@pytest.mark.parametrize(
    "document",
    [
        b"12345678901234567890",
        b" \n-12345678901234567890",
        b"\xef\xbb\xbf12345678901234567890",
        b'{"a": 12345678901234567890}',
        b'{"a":[1,\t-12345678901234567890]}',
        b"[12345678901234567890]",
    ],
)
def test_an_integer_past_64_bits_is_read_as_php_does(document: bytes) -> None:
    assert jsonbody.check_shape(document, LIMITS)
    decoded = json.dumps(jsonbody.loads(document, LIMITS))
    assert "e+19" in decoded and "12345678901234567890" not in decoded


def test_brackets_inside_strings_are_not_values() -> None:
    # 100 '[' and ',' in a string: past the quick count, the exact check finds 2 values
    document = json.dumps({"a": "[," * 100, "b": 1}).encode()
    assert jsonbody.check_shape(document, LIMITS) is False


def test_a_recording_is_checked_without_a_pass_over_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """attachRecord's body: 133 KB of base64 in three values. Taking the strings out cost
    0.6 ms a request, eight times the JSON decode (docs/benchmarks.md, round three)."""
    record = base64.b64encode(wav(100_000)).decode()
    document = json.dumps(
        {"CALL_ID": "externalCall.x.1", "FILENAME": "call.wav", "FILE_CONTENT": record}
    ).encode()

    def exact(*_: object) -> bool:
        raise AssertionError("the exact check ran")

    monkeypatch.setattr(jsonbody, "_exact_shape", exact)
    assert jsonbody.check_shape(document, InputLimits()) is False
    assert jsonbody.loads(document, InputLimits())["FILE_CONTENT"] == record
