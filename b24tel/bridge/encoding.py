"""A call's parameters as the JSON body the portal reads (its REST accepts JSON bodies as
well as forms: docs/reference/protocol.md, "Parameters").

Values still on disk — a recording's ``FILE_CONTENT`` spooled while the connector sent it
(``LargeValue``), a multipart file part (``UploadedFile``, sent base64-encoded as the portal
expects file contents) — are streamed into the body chunk by chunk: memory stays bounded
whatever the size.
"""

from __future__ import annotations

import base64
import codecs
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b24tel.rest.spool import LargeValue, UploadedFile


@dataclass(frozen=True)
class FileText:
    """A text value kept in a file of its own (a queued recording's ``FILE_CONTENT``)."""

    path: Path

    def iter_bytes(self) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk


CHUNK = 256 * 1024
_Streamed = LargeValue | UploadedFile | FileText


def has_streamed(value: Any) -> bool:
    if isinstance(value, _Streamed):
        return True
    if isinstance(value, dict):
        return any(has_streamed(v) for v in value.values())
    if isinstance(value, list):
        return any(has_streamed(v) for v in value)
    return False


def save_text(value: Any, path: Path) -> None:
    """Write a text value — a string or one still on disk — to a file of its own, a chunk
    at a time (in a worker thread: it is disk work)."""
    with path.open("wb") as out:
        if isinstance(value, LargeValue):
            for chunk in value.iter_bytes():
                out.write(chunk)
        elif isinstance(value, UploadedFile):
            for chunk in _base64(value.iter_bytes()):
                out.write(chunk)
        else:
            out.write(str(value).encode("utf-8"))


def encode(params: dict[str, Any]) -> bytes:
    """A body without streamed values, in one piece."""
    return json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def stream(params: dict[str, Any]) -> AsyncIterator[bytes]:
    """The same JSON, its streamed values read from disk as it goes."""
    for piece in _pieces(params):
        yield piece


def _pieces(value: Any) -> Iterator[bytes]:
    if isinstance(value, dict):
        yield b"{"
        for index, (key, item) in enumerate(value.items()):
            yield (b"," if index else b"") + json.dumps(str(key)).encode() + b":"
            yield from _pieces(item)
        yield b"}"
    elif isinstance(value, list):
        yield b"["
        for index, item in enumerate(value):
            if index:
                yield b","
            yield from _pieces(item)
        yield b"]"
    elif isinstance(value, LargeValue | FileText):
        yield from _string(value.iter_bytes())
    elif isinstance(value, UploadedFile):
        yield from _string(_base64(value.iter_bytes()))
    else:
        yield json.dumps(value, ensure_ascii=False).encode("utf-8")


def _string(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Bytes of text as one JSON string; a character split between chunks is kept whole."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    yield b'"'
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")
    rest = decoder.decode(b"", final=True)
    if rest:
        yield json.dumps(rest, ensure_ascii=False)[1:-1].encode("utf-8")
    yield b'"'


def _base64(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        whole = len(data) - len(data) % 3
        carry = data[whole:]
        if whole:
            yield base64.b64encode(data[:whole])
    if carry:
        yield base64.b64encode(carry)
