"""Streaming ingestion: bytes from a request (base64 text, a multipart part, a download)
are decoded, hashed (sha256), counted and written to a staging file chunk by chunk; nothing
holds the whole recording in memory."""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import os
import uuid
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from b24tel.recordings.errors import FILE_MISSING, Base64Error, IngestError, SizeLimitError
from b24tel.recordings.partfiles import PartFile

BATCH = 1024 * 1024


# line breaks and tabs are dropped; a space is a '+' lost in a raw query string
# (docs/reference/clients.md, "Values"); the URL-safe alphabet maps onto the standard one
_DROP = b"\r\n\t"
_MAP = bytes.maketrans(b" -_", b"++/")


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...


class Staging:
    """A staging file with a running sha256 and size, held (see ``partfiles``) until
    ``discard``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"ingest-{uuid.uuid4().hex}.part"
        self._part = PartFile(self.path)
        self._fh: IO[bytes] | None = self._part.fh
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        if data:
            assert self._fh is not None
            self._hash.update(data)
            self._fh.write(data)
            self.size += len(data)

    def finish(self) -> str:
        """Flush to disk; the hex sha256."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Remove the file (if it was not stored) and let go of it; safe to repeat."""
        self._fh = None
        self.path.unlink(missing_ok=True)
        self._part.release()


class Base64Decoder:
    """Incremental, strict base64 → bytes (after the tolerances above)."""

    def __init__(self, out: Staging) -> None:
        self.out = out
        self._carry = b""
        self._done = False  # padding seen: nothing may follow
        self.text_size = 0

    def write(self, text: bytes) -> None:
        data = self._carry + text.translate(_MAP, _DROP)
        self.text_size += len(text)
        usable = len(data) - len(data) % 4
        self._carry = data[usable:]
        if usable:
            self._decode(data[:usable])

    def _decode(self, block: bytes) -> None:
        if self._done:
            raise Base64Error()
        try:
            self.out.write(binascii.a2b_base64(block, strict_mode=True))
        except binascii.Error as exc:
            raise Base64Error() from exc
        if block.endswith(b"="):
            self._done = True

    def finish(self) -> None:
        tail = self._carry
        if len(tail) == 1:
            raise Base64Error()
        if tail:
            self._decode(tail + b"=" * (-len(tail) % 4))


def consume(chunks: Iterable[bytes], sink: Staging | Base64Decoder) -> None:
    """Feed a synchronous source (a spooled request value) through a sink; run in a
    worker thread."""
    for chunk in chunks:
        sink.write(chunk)
    if isinstance(sink, Base64Decoder):
        sink.finish()


async def consume_async(
    chunks: AsyncIterable[bytes], sink: Staging | Base64Decoder, limit: int | None = None
) -> None:
    """Feed an asynchronous source (a download, a request stream) through a sink."""
    await feed_in_batches(chunks, sink.write, limit)
    if isinstance(sink, Base64Decoder):
        sink.finish()


async def feed_in_batches(
    chunks: AsyncIterable[bytes], write: Callable[[bytes], object], limit: int | None
) -> None:
    """Pass the chunks to ``write`` in a worker thread, in batches of about a megabyte (one
    thread hop per batch, not per network chunk); more than ``limit`` bytes is refused."""
    batch = bytearray()
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if limit is not None and total > limit:
            raise SizeLimitError(limit)
        batch += chunk
        if len(batch) >= BATCH:
            data, batch = bytes(batch), bytearray()
            await asyncio.to_thread(write, data)
    if batch:
        await asyncio.to_thread(write, bytes(batch))


# --- multipart: the `file` part of an upload ------------------------------------------------


class MultipartFile:
    """Streams one named part of a ``multipart/form-data`` body into a sink, keeping the
    other parts' small values. Used by the two-step upload (`upload.json`)."""

    def __init__(self, field: str, sink_factory: Callable[[], Sink]) -> None:
        self.field = field
        self.sink_factory = sink_factory
        self.sink: Sink | None = None
        self.filename: str | None = None
        self.content_type = ""
        self.found = False
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._active = False

    def callbacks(self) -> Any:  # multipart's MultipartCallbacks, a TypedDict
        def header_field(data: bytes, start: int, end: int) -> None:
            self._hname += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._hvalue += data[start:end]

        def header_end() -> None:
            self._headers[self._hname.lower()] = self._hvalue
            self._hname = self._hvalue = b""

        return {
            "on_part_begin": lambda: self._headers.clear(),
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _headers_done(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        self._active = name == self.field and not self.found
        if self._active:
            self.found = True
            raw = opts.get(b"filename")
            self.filename = None if raw is None else raw.decode("utf-8", "replace")
            self.content_type = self._headers.get(b"content-type", b"").decode("latin-1")
            self.sink = self.sink_factory()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._active and self.sink is not None:
            self.sink.write(data[start:end])

    def _part_end(self) -> None:
        self._active = False


async def read_multipart_file(
    stream: AsyncIterable[bytes],
    content_type: str,
    field: str,
    sink_factory: Callable[[], Sink],
    limit: int,
) -> MultipartFile:
    """Parse the body as it arrives; the ``field`` part goes straight into a sink (in a
    worker thread, a batch at a time)."""
    ctype, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if ctype.lower() != b"multipart/form-data" or not boundary:
        raise IngestError(FILE_MISSING)
    reader = MultipartFile(field, sink_factory)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        await feed_in_batches(stream, parser.write, limit)
        parser.finalize()
    except FormParserError as exc:
        # a body that is not the multipart its header announces (another boundary, cut
        # short) holds no file the server can find
        raise IngestError(FILE_MISSING) from exc
    return reader
