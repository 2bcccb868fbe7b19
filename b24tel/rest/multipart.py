"""``multipart/form-data`` bodies, parsed as they arrive: text fields become values (large
ones stay on disk as ``LargeValue``s), file parts become ``UploadedFile``s."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header

from b24tel import errors
from b24tel.rest.spool import (
    LAZY_THRESHOLD,
    SPOOL_MEMORY,
    Body,
    LargeValue,
    LazyPaths,
    UploadedFile,
    drain,
    is_lazy,
)
from b24tel.wire import phpquery
from b24tel.wire.phpquery import InputLimits

# a body without credentials elsewhere must name them within this many parts
CREDENTIALS_WITHIN_PARTS = 100
CREDENTIAL_FIELDS = ("auth", "access_token")


class _Collector:
    def __init__(
        self, directory: str | None, limits: InputLimits, credentials_needed: bool = False
    ) -> None:
        self.fields: list[tuple[str, Any]] = []
        self.directory = directory
        self.limits = limits
        self.credentials_needed = credentials_needed
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name = ""
        self._filename: str | None = None
        self._ctype = ""
        self._data: IO[bytes] | bytearray = bytearray()
        self._size = 0

    def callbacks(self) -> Any:  # multipart's MultipartCallbacks, a TypedDict
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": lambda d, s, e: setattr(self, "_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_value", self._value + d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def _spooled(self) -> IO[bytes]:
        return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=self.directory)

    def on_part_begin(self) -> None:
        if len(self.fields) >= self.limits.max_vars:
            raise errors.too_many_params(self.limits.max_vars)
        if self.credentials_needed and len(self.fields) >= CREDENTIALS_WITHIN_PARTS:
            # no client sends a hundred fields before its token; nobody reads on for free
            raise errors.no_auth_found()
        self._headers, self._data, self._size = {}, bytearray(), 0

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", errors="replace")
        filename = options.get(b"filename")
        self._filename = None if filename is None else filename.decode("utf-8", "replace")
        self._ctype = self._headers.get(b"content-type", b"").decode("latin-1")
        if self._filename is not None:
            self._data = self._spooled()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if isinstance(self._data, bytearray) and self._size > LAZY_THRESHOLD:
            spooled = self._spooled()
            spooled.write(self._data)
            self._data = spooled
        if isinstance(self._data, bytearray):
            self._data += data[start:end]
        else:
            self._data.write(data[start:end])

    def on_part_end(self) -> None:
        data = self._data
        if self._filename is not None:
            assert not isinstance(data, bytearray)
            data.seek(0)
            value: Any = UploadedFile(self._filename, self._ctype, data, self._size)
        elif isinstance(data, bytearray):
            value = bytes(data).decode("utf-8", errors="replace")
        else:
            holder = Body(self.directory)
            holder.file.close()
            holder.file, holder.size = data, self._size
            value = LargeValue(holder, 0, self._size, "raw")
        self.fields.append((self._name, value))
        if self._name in CREDENTIAL_FIELDS and isinstance(value, str) and value:
            self.credentials_needed = False


async def decode(
    stream: AsyncIterator[bytes],
    boundary: bytes,
    limit: int,
    lazy: LazyPaths,
    limits: InputLimits,
    directory: str | None = None,
    credentials_needed: bool = False,
) -> dict[str, Any]:
    collector = _Collector(directory, limits, credentials_needed)
    parser = MultipartParser(boundary, collector.callbacks())
    total = 0
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                await drain(stream)
                raise errors.body_too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except BaseException:
        close_values(v for _, v in collector.fields)
        raise
    pairs = []
    for name, value in collector.fields:
        if isinstance(value, LargeValue) and not is_lazy(
            phpquery.key_path(name, limits.max_depth), lazy
        ):
            text = value.text()
            value.body.close()
            value = text
        pairs.append((name, value))
    return phpquery.build(pairs, limits)


def close_values(values: Any) -> None:
    for value in values:
        if isinstance(value, UploadedFile):
            value.file.close()
        elif isinstance(value, LargeValue):
            value.body.close()
