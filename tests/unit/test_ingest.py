"""Streaming base64 decoding with its tolerances, hashing and counting."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from b24tel.recordings.errors import NOT_BASE64, Base64Error
from b24tel.recordings.ingest import Base64Decoder, Staging, consume


def decode(tmp_path: Path, pieces: list[bytes]) -> tuple[bytes, Staging]:
    staging = Staging(tmp_path)
    consume(pieces, Base64Decoder(staging))
    sha = staging.finish()
    data = staging.path.read_bytes()
    assert sha == hashlib.sha256(data).hexdigest() and staging.size == len(data)
    return data, staging


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1000, 65537])
@pytest.mark.parametrize("piece", [1, 3, 7, 4096])
def test_chunked_decoding(tmp_path: Path, size: int, piece: int) -> None:
    raw = os.urandom(size)
    text = base64.b64encode(raw)
    data, _ = decode(tmp_path, [text[i : i + piece] for i in range(0, len(text), piece)])
    assert data == raw


def test_tolerances(tmp_path: Path) -> None:
    raw = bytes(range(256)) * 20  # base64 with '+' and '/'
    text = base64.b64encode(raw)
    assert b"+" in text and b"/" in text
    spaced = text.replace(b"+", b" ")  # '+' lost in a raw query string
    wrapped = b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))  # MIME lines
    urlsafe = base64.urlsafe_b64encode(raw)
    unpadded = base64.b64encode(raw[:-1]).rstrip(b"=")
    for variant, expected in ((spaced, raw), (wrapped, raw), (urlsafe, raw), (unpadded, raw[:-1])):
        assert decode(tmp_path, [variant])[0] == expected


@pytest.mark.parametrize("bad", [b"abc$def", b"QUJD\xff", b"QQ==QUJD", b"QUJDR", b"ab\x00cd"])
def test_refusals(tmp_path: Path, bad: bytes) -> None:
    with pytest.raises(Base64Error) as err:
        decode(tmp_path, [bad])
    assert str(err.value) == NOT_BASE64
