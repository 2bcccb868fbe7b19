"""PHP parse_str semantics (docs/reference/protocol.md, "Parameters")."""

from __future__ import annotations

import pytest

from b24tel.wire import phpquery


@pytest.mark.parametrize(
    ("qs", "expected"),
    [
        ("a=1&b=2", {"a": "1", "b": "2"}),
        (
            "FIELDS[PHONE][0][VALUE]=555&FIELDS[PHONE][0][VALUE_TYPE]=WORK",
            {"FIELDS": {"PHONE": [{"VALUE": "555", "VALUE_TYPE": "WORK"}]}},
        ),
        ("select[]=ID&select[]=TITLE", {"select": ["ID", "TITLE"]}),
        ("filter%5B%3EID%5D=0", {"filter": {">ID": "0"}}),
        ("filter[>ID]=5&order[ID]=DESC", {"filter": {">ID": "5"}, "order": {"ID": "DESC"}}),
        ("USER_ID[0]=11&USER_ID[1]=24", {"USER_ID": ["11", "24"]}),
        ("USER_ID[1]=11&USER_ID[2]=24", {"USER_ID": {"1": "11", "2": "24"}}),
        ("a=x+y&b=x%2By", {"a": "x y", "b": "x+y"}),
        ("a.b=1&c d=2", {"a_b": "1", "c_d": "2"}),
        (
            "cmd[telephony.externalcall.register_17.5f3a]=x",
            {"cmd": {"telephony.externalcall.register_17.5f3a": "x"}},
        ),
        ("a[=1", {"a_": "1"}),
        ("=1&&b=", {"b": ""}),
        ("a=1&a=2", {"a": "2"}),
        ("a[]=1&a[5]=2&a[]=3", {"a": {"0": "1", "5": "2", "6": "3"}}),
        ("a[05]=1", {"a": {"05": "1"}}),
        ("x[]=", {"x": [""]}),
        ("a[b]c=1", {"a": {"b": "1"}}),
        ("p=%D0%BF%D1%80%D0%B8", {"p": "при"}),
    ],
)
def test_parse(qs: str, expected: dict) -> None:
    assert phpquery.parse(qs) == expected


def test_scalar_then_array_overwrites() -> None:
    assert phpquery.parse("a=1&a[b]=2") == {"a": {"b": "2"}}


def test_encode_round_trip() -> None:
    params = {"FIELDS": {"PHONE": [{"VALUE": "+7 916", "VALUE_TYPE": "WORK"}]}, "flag": True}
    pairs = phpquery.encode(params)
    assert ("FIELDS[PHONE][0][VALUE]", "+7 916") in pairs
    from urllib.parse import urlencode

    assert phpquery.parse(urlencode(pairs)) == {
        "FIELDS": {"PHONE": [{"VALUE": "+7 916", "VALUE_TYPE": "WORK"}]},
        "flag": "1",
    }
