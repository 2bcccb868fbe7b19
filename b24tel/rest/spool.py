"""Request bodies on disk, and the big values that stay there.

A body is read into a spooled temporary file, never wholly into memory. A value larger than
``LAZY_THRESHOLD`` at a path the method declares streamable (``FILE_CONTENT``) is not
decoded into a string: it becomes a ``LargeValue`` that hands out its decoded bytes chunk by
chunk, so a 200 MB base64 recording costs a few megabytes of memory.
"""

from __future__ import annotations

import binascii
import errno
import hashlib
import json
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote_to_bytes

from b24tel import errors

SPOOL_MEMORY = 1024 * 1024
LAZY_THRESHOLD = 256 * 1024
CHUNK = 1024 * 1024

# where a body names its credentials: a form pair `auth=`/`access_token=` or a JSON key
_AUTH_MARK = re.compile(rb'&(?:auth|access_token)=|"(?:auth|access_token)"\s*:')
_AUTH_FIRST = re.compile(rb"(?:auth|access_token)=")
_MARK_TAIL = 24  # bytes kept between chunks so a mark split across two is still found

LazyPaths = frozenset[tuple[str | int, ...]]
ANY_KEY = "*"  # in a lazy path: any key at this level (batch `cmd[<key>]`)


def is_lazy(path: tuple[str | int, ...], lazy: LazyPaths) -> bool:
    if path in lazy:
        return True
    return any(
        len(p) == len(path) and all(a in (ANY_KEY, b) for a, b in zip(p, path, strict=True))
        for p in lazy
        if ANY_KEY in p
    )


def no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Body:
    """A request body spooled to a temporary file (in ``directory`` once it outgrows
    memory)."""

    def __init__(self, directory: str | None = None) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by close)
            max_size=SPOOL_MEMORY, dir=directory
        )
        self.size = 0
        # offset of the first credentials mark seen while reading (see `spool`)
        self.auth_mark: int | None = None

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            if no_space(exc):
                raise errors.insufficient_storage() from exc
            raise
        self.size += len(data)

    def read_range(self, start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
        pos = start
        while pos < end:
            self.file.seek(pos)
            data = self.file.read(min(chunk, end - pos))
            if not data:
                break
            pos += len(data)
            yield data

    def read_all(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        self.file.close()


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Read and drop what is left of a body (nothing, when it was read already)."""
    try:
        async for _ in stream:
            pass
    except RuntimeError:  # Starlette: "Stream consumed"
        pass


async def spool(
    stream: AsyncIterator[bytes],
    limit: int,
    *,
    directory: str | None = None,
    credentials_within: int | None = None,
) -> Body:
    """Read the whole body; over ``limit`` the rest is dropped, then 413.

    ``credentials_within``: the request has no credentials outside its body, so the body
    must name them (``auth=`` or ``"auth":``) within that many bytes, or it is refused
    there — nobody gets the server to store a large body without saying who they are."""
    body = Body(directory)
    tail = b""
    try:
        async for chunk in stream:
            if body.size + len(chunk) > limit:
                # reading (and dropping) the rest lets the client see our answer instead of
                # a reset connection
                await drain(stream)
                raise errors.body_too_large(limit)
            if credentials_within is not None and body.auth_mark is None:
                window, offset = tail + chunk, body.size - len(tail)
                found = _AUTH_MARK.search(window)
                if offset == 0 and _AUTH_FIRST.match(window):
                    body.auth_mark = 0
                elif found is not None:
                    body.auth_mark = offset + found.start()
                elif body.size + len(chunk) > credentials_within:
                    raise errors.credentials_not_found_in(credentials_within)
                tail = window[-_MARK_TAIL:]
            body.write(chunk)
    except BaseException:
        body.close()
        raise
    body.file.seek(0)
    return body


@dataclass
class Fingerprint:
    """Size and sha256 of a value's decoded bytes (what the request journal keeps of a big
    value), taken while the method reads the value, so the journal need not read it again."""

    size: int
    sha256: str


def _fingerprinted(value: LargeValue | UploadedFile, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, hashed on the way when ``value`` wants its fingerprint and has none yet."""
    if not value.fingerprinting or value.fingerprint is not None:
        return chunks
    return _hashing(value, chunks)


def _hashing(value: LargeValue | UploadedFile, chunks: Iterator[bytes]) -> Iterator[bytes]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    value.fingerprint = Fingerprint(size, digest.hexdigest())  # read through to the end


@dataclass
class LargeValue:
    """A big parameter value still sitting in a spooled body.

    ``kind`` tells how the raw bytes are encoded: ``json`` (a JSON string body without the
    quotes), ``form`` (percent-encoding with ``+`` for space) or ``raw``."""

    body: Body
    start: int
    end: int
    kind: str
    _file: IO[bytes] | None = field(default=None, repr=False)
    # the request journal wants the fingerprint: take it on the first read-through
    fingerprinting: bool = field(default=False, repr=False)
    fingerprint: Fingerprint | None = field(default=None, repr=False)

    @property
    def raw_size(self) -> int:
        return self.end - self.start

    def iter_bytes(self) -> Iterator[bytes]:
        raw = self.body.read_range(self.start, self.end)
        if self.kind == "json":
            chunks = json_unescape(raw)
        elif self.kind == "form":
            chunks = form_unescape(raw)
        else:
            chunks = raw
        return _fingerprinted(self, chunks)

    def text(self) -> str:
        return b"".join(self.iter_bytes()).decode("utf-8", errors="replace")

    def __str__(self) -> str:
        return self.text()


@dataclass
class UploadedFile:
    """A multipart file part, spooled to a temporary file."""

    filename: str
    content_type: str
    file: IO[bytes]
    size: int
    fingerprinting: bool = field(default=False, repr=False)
    fingerprint: Fingerprint | None = field(default=None, repr=False)

    def iter_bytes(self) -> Iterator[bytes]:
        return _fingerprinted(self, self._chunks())

    def _chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk


# --- streaming unescapes --------------------------------------------------------------------


def json_unescape(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        if b"\\" not in data:
            carry = b""
            yield data
            continue
        # keep an escape sequence that may continue into the next chunk
        cut = data.rfind(b"\\", max(0, len(data) - 6))
        if cut != -1 and _escape_incomplete(data, cut):
            data, carry = data[:cut], data[cut:]
        else:
            carry = b""
        yield _decode_json_fragment(data)
    if carry:
        yield _decode_json_fragment(carry)


def _escape_incomplete(data: bytes, cut: int) -> bool:
    # count the run of backslashes ending at `cut`; an even run before it means `cut`
    # starts an escape
    run = 0
    i = cut - 1
    while i >= 0 and data[i] == 0x5C:
        run += 1
        i -= 1
    if run % 2:
        return False
    tail = data[cut:]
    if len(tail) < 2:
        return True
    return tail[1:2] == b"u" and len(tail) < 6


def _decode_json_fragment(data: bytes) -> bytes:
    try:
        text: str = json.loads(b'"' + data + b'"')
        return text.encode("utf-8", errors="surrogatepass")
    except ValueError:
        return data


# the escapes a urlencoded base64 value is full of, replaced in C before the general pass
_COMMON_ESCAPES = (
    (b"%2B", b"+"),
    (b"%2b", b"+"),
    (b"%2F", b"/"),
    (b"%2f", b"/"),
    (b"%3D", b"="),
    (b"%3d", b"="),
)


# percent-escapes read as quoted-printable ones, which binascii decodes in one pass in C
_PERCENT_AS_QP = bytes.maketrans(b"%", b"=")


def unquote_form(data: bytes) -> bytes:
    data = data.replace(b"+", b" ")
    if b"%" not in data:
        return data
    if b"\n" not in data and b"\r" not in data:  # no soft line breaks for it to take
        # a literal "=" is escaped first so that it comes out as itself; every valid "%XX"
        # shortens the value by two bytes, so the length tells whether all were valid
        out = binascii.a2b_qp(data.replace(b"=", b"=3D").translate(_PERCENT_AS_QP))
        if len(out) == len(data) - 2 * data.count(b"%"):
            return out
    # a "%" always starts an escape, so these never touch a "%25…" sequence
    for escape, char in _COMMON_ESCAPES:
        data = data.replace(escape, char)
    if b"%" not in data:
        return data
    if data.count(b"%") == data.count(b"%25"):
        # only escaped "%" left (a value encoded twice: base64 inside a batch command);
        # replaced last, so what it yields is never decoded again
        return data.replace(b"%25", b"%")
    # the general decoder holds ~20 objects per escape: work in slices to bound memory
    return b"".join(unquote_to_bytes(piece) for piece in _slices(data))


def _slices(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` in slices of about ``size`` bytes, never cutting a ``%XX`` escape."""
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        if end < len(data):
            pct = data.rfind(b"%", end - 2, end)
            if pct != -1:
                end = pct
        yield data[start:end]
        start = end


def form_unescape(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        pct = data.rfind(b"%", max(0, len(data) - 2))
        if pct != -1:
            data, carry = data[:pct], data[pct:]
        else:
            carry = b""
        yield unquote_form(data)
    if carry:
        yield unquote_form(carry)
