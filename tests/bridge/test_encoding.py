"""A call's parameters streamed as JSON: the same text as in one piece, whatever the chunk
boundaries (a character split between two chunks, base64 groups across chunks)."""

from __future__ import annotations

import base64
import json

from b24tel.bridge import encoding


def test_text_split_inside_a_character_stays_whole() -> None:
    text = 'Звонок "1" \\ ok\n' * 50
    data = text.encode()
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    streamed = b"".join(encoding._string(iter(chunks)))
    assert json.loads(streamed) == text


def test_file_contents_become_base64_across_chunks() -> None:
    data = bytes(range(256)) * 41
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert b"".join(encoding._base64(iter(chunks))) == base64.b64encode(data)


async def test_a_body_without_files_is_the_same_either_way() -> None:
    params = {"CALL_ID": "x", "N": 1, "L": [1, "a", None, True], "D": {"k": "ü"}}
    streamed = b"".join([piece async for piece in encoding.stream(params)])
    assert json.loads(streamed) == json.loads(encoding.encode(params)) == params
    assert not encoding.has_streamed(params)
