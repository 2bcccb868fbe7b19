"""Turning an HTTP request into one parameter dict (behavior.md §4.2, compat P1–P7).

The query string is parsed first; a body (JSON, urlencoded form, multipart, or a raw query
string) replaces query values key by key at the top level. JSON ``null`` at the top level
counts as absent.

Bodies are read into a spooled temporary file, never wholly into memory. Values larger than
``LAZY_THRESHOLD`` at the paths a method declares streamable (``FILE_CONTENT``) are not
decoded into strings: they become ``LargeValue`` objects that hand out their decoded bytes
chunk by chunk, so a 200 MB base64 recording costs a few megabytes of memory.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParser, parse_options_header

from b24tel.errors import ApiError, body_too_large
from b24tel.rest import phpquery

SPOOL_MEMORY = 1024 * 1024
LAZY_THRESHOLD = 256 * 1024
CHUNK = 1024 * 1024

LazyPaths = frozenset[tuple[str | int, ...]]


# --- body spooling --------------------------------------------------------------------------


class Body:
    """A request body spooled to a temporary file."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (closed by Body.close)
        self.size = 0

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


async def spool(stream: AsyncIterator[bytes], limit: int) -> Body:
    """Read the whole body; over ``limit`` the rest is read and discarded, then 413."""
    body = Body()
    async for chunk in stream:
        body.size += len(chunk)
        if body.size > limit:
            body.close()
            # reading (and dropping) the rest lets the client see our answer instead of a
            # reset connection
            await drain(stream)
            raise body_too_large(limit)
        body.file.write(chunk)
    body.file.seek(0)
    return body


# --- lazy values ----------------------------------------------------------------------------


@dataclass
class LargeValue:
    """A big parameter value still sitting in the spooled body.

    ``kind`` tells how the raw bytes are encoded: ``json`` (a JSON string body without the
    quotes), ``form`` (percent-encoding with ``+`` for space) or ``raw``."""

    body: Body
    start: int
    end: int
    kind: str
    _file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def raw_size(self) -> int:
        return self.end - self.start

    def iter_bytes(self) -> Iterator[bytes]:
        raw = self.body.read_range(self.start, self.end)
        if self.kind == "json":
            return _json_unescape(raw)
        if self.kind == "form":
            return _form_unescape(raw)
        return raw

    def text(self) -> str:
        return b"".join(self.iter_bytes()).decode("utf-8", errors="replace")

    def __str__(self) -> str:
        return self.text()


def _json_unescape(chunks: Iterator[bytes]) -> Iterator[bytes]:
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
        return json.loads(b'"' + data + b'"').encode("utf-8", errors="surrogatepass")
    except ValueError:
        return data


_PCT = re.compile(rb"%[0-9A-Fa-f]{2}")


# the escapes a urlencoded base64 value is full of, replaced in C before the general pass
_COMMON_ESCAPES = (
    (b"%2B", b"+"),
    (b"%2b", b"+"),
    (b"%2F", b"/"),
    (b"%2f", b"/"),
    (b"%3D", b"="),
    (b"%3d", b"="),
)


def _unquote_form(data: bytes) -> bytes:
    data = data.replace(b"+", b" ")
    if b"%" not in data:
        return data
    # a "%" always starts an escape, so these never touch a "%25…" sequence
    for escape, char in _COMMON_ESCAPES:
        data = data.replace(escape, char)
    return unquote_to_bytes(data) if b"%" in data else data


def _form_unescape(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        pct = data.rfind(b"%", max(0, len(data) - 2))
        if pct != -1:
            data, carry = data[:pct], data[pct:]
        else:
            carry = b""
        yield _unquote_form(data)
    if carry:
        yield _unquote_form(carry)


# --- JSON bodies ----------------------------------------------------------------------------

# a JSON escape, so the reduced document stays valid JSON
_PLACEHOLDER = b"\\u0000b24tel-large-%d"
_PLACEHOLDER_PREFIX = "\x00b24tel-large-"


def _scan_json(body: Body) -> tuple[bytes, list[tuple[int, int]]]:
    """Copy the JSON document, replacing string literals longer than LAZY_THRESHOLD with
    numbered placeholders; return the reduced text and the (start, end) of each."""
    reduced = bytearray()
    larges: list[tuple[int, int]] = []
    in_string = False
    string_start = 0
    pending: bytearray | None = bytearray()  # the current string while it is still small
    backslashes = 0  # trailing backslashes of the previous chunk inside a string
    offset = 0
    body.file.seek(0)
    while True:
        chunk = body.file.read(CHUNK)
        if not chunk:
            break
        pos = 0
        while pos < len(chunk):
            if not in_string:
                q = chunk.find(b'"', pos)
                if q == -1:
                    reduced += chunk[pos:]
                    break
                reduced += chunk[pos : q + 1]
                in_string, string_start, pending, backslashes = True, offset + q + 1, bytearray(), 0
                pos = q + 1
                continue
            q = chunk.find(b'"', pos)
            while q != -1 and _escaped(chunk, q, pos, backslashes):
                q = chunk.find(b'"', q + 1)
            if q == -1:
                if pending is not None:
                    pending += chunk[pos:]
                    if len(pending) > LAZY_THRESHOLD:
                        pending = None
                backslashes = _trailing_backslashes(chunk, pos, backslashes)
                break
            end = offset + q
            if pending is not None and len(pending) + (q - pos) <= LAZY_THRESHOLD:
                pending += chunk[pos:q]
                reduced += pending + b'"'
            else:
                reduced += _PLACEHOLDER % len(larges) + b'"'
                larges.append((string_start, end))
            in_string, pending = False, bytearray()
            pos = q + 1
        offset += len(chunk)
    return bytes(reduced), larges


def _escaped(chunk: bytes, q: int, start: int, carried: int) -> bool:
    run = 0
    i = q - 1
    while i >= start and chunk[i] == 0x5C:
        run += 1
        i -= 1
    if i < start:
        run += carried
    return run % 2 == 1


def _trailing_backslashes(chunk: bytes, start: int, carried: int) -> int:
    run = 0
    i = len(chunk) - 1
    while i >= start and chunk[i] == 0x5C:
        run += 1
        i -= 1
    return run + carried if i < start else run


def decode_json(body: Body, lazy: LazyPaths) -> Any:
    if body.size <= LAZY_THRESHOLD:
        text = body.read_all()
        return json.loads(text)
    reduced, larges = _scan_json(body)
    doc = json.loads(reduced)
    if not larges:
        return doc
    values = [LargeValue(body, start, end, "json") for start, end in larges]
    return _restore(doc, values, lazy, ())


def _restore(node: Any, values: list[LargeValue], lazy: LazyPaths, path: tuple) -> Any:
    if isinstance(node, dict):
        return {k: _restore(v, values, lazy, (*path, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, values, lazy, (*path, i)) for i, v in enumerate(node)]
    if isinstance(node, str) and node.startswith(_PLACEHOLDER_PREFIX):
        value = values[int(node[len(_PLACEHOLDER_PREFIX) :])]
        return value if path in lazy else value.text()
    return node


# --- urlencoded bodies ----------------------------------------------------------------------


def decode_form(body: Body, lazy: LazyPaths) -> dict[str, Any]:
    if body.size <= LAZY_THRESHOLD:
        return phpquery.parse(body.read_all().decode("utf-8", "replace"))
    pairs: list[tuple[str, Any]] = []
    for start, end in _split_ranges(body):
        head = b"".join(body.read_range(start, min(end, start + 4096)))
        eq = head.find(b"=")
        if end - start <= LAZY_THRESHOLD or eq == -1:
            raw = b"".join(body.read_range(start, end)).decode("utf-8", "replace")
            pairs.extend(phpquery.split_pairs(raw))
            continue
        name = phpquery.unquote_plus(head[:eq].decode("utf-8", "replace"), errors="replace")
        value = LargeValue(body, start + eq + 1, end, "form")
        path = phpquery.split_name(name)
        key = tuple(phpquery._php_key(p) if i else p for i, p in enumerate(path or []))
        pairs.append((name, value if key in lazy else value.text()))
    return phpquery.build(pairs)


def _split_ranges(body: Body) -> Iterator[tuple[int, int]]:
    offset, start = 0, 0
    while True:
        # the caller reads the same file between our yields: seek every time
        body.file.seek(offset)
        chunk = body.file.read(CHUNK)
        if not chunk:
            break
        pos = 0
        while (amp := chunk.find(b"&", pos)) != -1:
            yield start, offset + amp
            start = offset + amp + 1
            pos = amp + 1
        offset += len(chunk)
    if start < offset:
        yield start, offset


# --- multipart bodies -----------------------------------------------------------------------


@dataclass
class UploadedFile:
    """A multipart file part, spooled to a temporary file."""

    filename: str
    content_type: str
    file: IO[bytes]
    size: int

    def iter_bytes(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk


class _MultipartCollector:
    def __init__(self) -> None:
        self.fields: list[tuple[str, Any]] = []
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

    def on_part_begin(self) -> None:
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
            self._data = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if isinstance(self._data, bytearray) and self._size > LAZY_THRESHOLD:
            spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
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
            holder = Body()
            holder.file, holder.size = data, self._size
            value = LargeValue(holder, 0, self._size, "raw")
        self.fields.append((self._name, value))


async def decode_multipart(
    stream: AsyncIterator[bytes], boundary: bytes, limit: int, lazy: LazyPaths
) -> dict[str, Any]:
    collector = _MultipartCollector()
    parser = MultipartParser(boundary, collector.callbacks())
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            await drain(stream)
            raise body_too_large(limit)
        parser.write(chunk)
    parser.finalize()
    pairs = []
    for name, value in collector.fields:
        if isinstance(value, LargeValue):
            path = phpquery.split_name(name) or []
            key = tuple(phpquery._php_key(p) if i else p for i, p in enumerate(path))
            if key not in lazy:
                value = value.text()
        pairs.append((name, value))
    return phpquery.build(pairs)


# --- the whole request ----------------------------------------------------------------------


@dataclass
class DecodedRequest:
    params: dict[str, Any]
    body: Body | None = None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
        for value in _walk(self.params):
            if isinstance(value, UploadedFile):
                value.file.close()
            elif isinstance(value, LargeValue) and value.body is not self.body:
                value.body.close()


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def _drop_nulls(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


async def decode_request(
    query_string: str,
    content_type: str,
    stream: AsyncIterator[bytes],
    limit: int,
    lazy: LazyPaths = frozenset(),
    has_body: bool = True,
) -> DecodedRequest:
    params = phpquery.parse(query_string) if query_string else {}
    if not has_body:
        return DecodedRequest(params)
    ctype, options = parse_options_header(content_type or "")
    ctype_text = ctype.decode("latin-1").lower()
    if ctype_text == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            await drain(stream)
            raise ApiError("INVALID_REQUEST", "Multipart body without a boundary", 400)
        try:
            body_params = await decode_multipart(stream, boundary, limit, lazy)
        except ApiError:
            raise
        except Exception as exc:
            raise ApiError("INVALID_REQUEST", "Malformed multipart body", 400) from exc
        params.update(_drop_nulls(body_params))
        return DecodedRequest(params)
    body = await spool(stream, limit)
    if body.size == 0:
        body.close()
        return DecodedRequest(params)
    if ctype_text == "application/json" or ctype_text.endswith("+json"):
        try:
            doc = decode_json(body, lazy)
        except (ValueError, UnicodeDecodeError):
            doc = None  # the reference silently ignores an undecodable JSON body
        if isinstance(doc, dict):
            params.update(_drop_nulls(doc))
        elif isinstance(doc, list):
            params.update({str(i): v for i, v in enumerate(doc) if v is not None})
    else:
        # urlencoded, or any other body: PHP reads it as a query string
        params.update(decode_form(body, lazy))
    return DecodedRequest(params, body)
