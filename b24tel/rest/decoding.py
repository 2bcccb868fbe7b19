"""Turning an HTTP request into one parameter dict (docs/reference/protocol.md,
"Parameters"; docs/reference/clients.md, "Values").

The query string is parsed first; a body (JSON, urlencoded form, multipart, or a raw query
string) replaces query values key by key at the top level. JSON ``null`` at the top level
counts as absent.

Reading and decoding are two steps so that the endpoint can authenticate in between: a body
is spooled (``read_body``) and, when the request names no credentials outside it, only the
credentials are picked out of it (``RawBody.auth_hint``) before the caller is known; the
full decoding (``decode_body``) runs for authenticated callers only, in a worker thread when
the body is large, so one client's big request never stalls the others.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from python_multipart.multipart import parse_options_header

from b24tel import errors
from b24tel.rest import jsonbody, multipart
from b24tel.rest.spool import (
    CHUNK,
    LAZY_THRESHOLD,
    Body,
    LargeValue,
    LazyPaths,
    UploadedFile,
    drain,
    is_lazy,
    spool,
)
from b24tel.wire import phpquery
from b24tel.wire.phpquery import DEFAULT_LIMITS, InputLimits

# decoding more than this runs in a worker thread
INLINE_LIMIT = 64 * 1024
AUTH_HINT_WINDOW = 8 * 1024

_FORM_AUTH = re.compile(rb"&?(?:auth|access_token)=([^&]*)")
_JSON_AUTH = re.compile(rb'"(?:auth|access_token)"\s*:\s*("(?:[^"\\]++|\\.)*+")')


# bodies that may name a caller's credentials: a body of another type (a recording sent
# raw, application/octet-stream) is refused unread when the request names none elsewhere
CREDENTIAL_BODIES = ("", "application/x-www-form-urlencoded", "multipart/form-data",
                     "application/json", "text/plain")  # fmt: skip


def may_name_credentials(content_type: str) -> bool:
    ctype, _ = _media_type(content_type)
    return ctype in CREDENTIAL_BODIES or ctype.endswith("+json")


@dataclass(frozen=True)
class BodyRules:
    max_size: int
    limits: InputLimits = DEFAULT_LIMITS
    spool_dir: str | None = None
    # set when the request names no credentials outside its body: they must appear in it
    # within this many bytes
    credentials_within: int | None = None


@dataclass
class RawBody:
    """A read body before decoding: spooled (JSON, form), or parsed already (multipart)."""

    kind: Literal["none", "json", "form", "multipart"]
    body: Body | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def auth_hint(self) -> str | None:
        """The token the body names, found without decoding the rest of it."""
        if self.kind == "multipart":
            for name in ("auth", "access_token"):
                value = self.params.get(name)
                if isinstance(value, str) and value:
                    return value
            return None
        body = self.body
        if body is None or body.auth_mark is None:
            return None
        window = b"".join(body.read_range(body.auth_mark, body.auth_mark + AUTH_HINT_WINDOW))
        if self.kind == "json":
            found = _JSON_AUTH.match(window)
            try:
                value = json.loads(found.group(1)) if found else None
                if isinstance(value, str):
                    value.encode("utf-8")  # a lone surrogate: PHP would refuse the JSON
            except (ValueError, UnicodeEncodeError):
                return None
        else:
            found = _FORM_AUTH.match(window)
            value = unquote_plus(found.group(1).decode("utf-8", "replace")) if found else None
        return value if isinstance(value, str) and value else None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


def _media_type(content_type: str) -> tuple[str, dict[bytes, bytes]]:
    ctype, options = parse_options_header(content_type or "")
    return ctype.decode("latin-1").lower(), options


async def read_body(
    content_type: str, stream: AsyncIterator[bytes], rules: BodyRules, lazy: LazyPaths
) -> RawBody:
    ctype, options = _media_type(content_type)
    if ctype == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            await drain(stream)
            raise errors.invalid_request("Multipart body without a boundary")
        limit = min(rules.max_size, rules.credentials_within or rules.max_size)
        try:
            params = await multipart.decode(
                stream, boundary, limit, lazy, rules.limits, rules.spool_dir,
                credentials_needed=rules.credentials_within is not None,
            )  # fmt: skip
        except errors.ApiError:
            raise
        except Exception as exc:
            raise errors.invalid_request("Malformed multipart body") from exc
        return RawBody("multipart", params=params)
    body = await spool(
        stream,
        rules.max_size,
        directory=rules.spool_dir,
        credentials_within=rules.credentials_within,
    )
    if body.size == 0:
        body.close()
        return RawBody("none")
    is_json = ctype == "application/json" or ctype.endswith("+json")
    return RawBody("json" if is_json else "form", body)


async def decode_body(raw: RawBody, lazy: LazyPaths, limits: InputLimits) -> dict[str, Any]:
    """The body's parameters (top level, nulls dropped)."""
    if raw.kind == "none":
        return {}
    if raw.kind == "multipart":
        return _drop_nulls(raw.params)
    assert raw.body is not None
    body = raw.body
    work = _decode_json if raw.kind == "json" else decode_form
    if body.size > INLINE_LIMIT:
        return await asyncio.to_thread(work, body, lazy, limits)
    return work(body, lazy, limits)


def _decode_json(body: Body, lazy: LazyPaths, limits: InputLimits) -> dict[str, Any]:
    try:
        doc = jsonbody.decode(body, lazy, limits)
    except ValueError:  # the reference silently ignores an undecodable JSON body
        return {}
    if isinstance(doc, dict):
        return _drop_nulls(doc)
    if isinstance(doc, list):
        return {str(i): v for i, v in enumerate(doc) if v is not None}
    return {}


def decode_form(body: Body, lazy: LazyPaths, limits: InputLimits) -> dict[str, Any]:
    """An urlencoded body, or any other body: PHP reads it as a query string."""
    if body.size <= LAZY_THRESHOLD:
        return phpquery.parse(body.read_all().decode("utf-8", "replace"), limits)
    return phpquery.build(_form_pairs(body, lazy, limits), limits)


def _form_pairs(body: Body, lazy: LazyPaths, limits: InputLimits) -> Iterator[tuple[str, Any]]:
    for start, end in _split_ranges(body):
        head = b"".join(body.read_range(start, min(end, start + 4096)))
        eq = head.find(b"=")
        if end - start <= LAZY_THRESHOLD or eq == -1:
            raw = b"".join(body.read_range(start, end)).decode("utf-8", "replace")
            yield from phpquery.split_pairs(raw)
            continue
        name = unquote_plus(head[:eq].decode("utf-8", "replace"), errors="replace")
        value = LargeValue(body, start + eq + 1, end, "form")
        lazy_here = is_lazy(phpquery.key_path(name, limits.max_depth), lazy)
        yield name, value if lazy_here else value.text()


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


async def parse_query(query_string: str, limits: InputLimits) -> dict[str, Any]:
    if len(query_string) > INLINE_LIMIT:
        return await asyncio.to_thread(phpquery.parse, query_string, limits)
    return phpquery.parse(query_string, limits)


def _drop_nulls(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# --- checks on the decoded values -----------------------------------------------------------


def check_values(params: dict[str, Any], lazy: LazyPaths) -> None:
    """What no method accepts: NUL characters (PostgreSQL cannot store them, and no Bitrix
    field means one) and file parts where text is expected. A file part at a streamable
    path (``FILE_CONTENT``) is taken as that value's text."""
    stack: list[tuple[tuple[Any, ...], Any, Any, Any]] = [((), None, None, params)]
    while stack:
        path, parent, key, node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and "\x00" in k:
                    raise errors.nul_in_value()
                stack.append(((*path, k), node, k, v))
        elif isinstance(node, list):
            stack.extend(((*path, i), node, i, v) for i, v in enumerate(node))
        elif isinstance(node, str):
            if "\x00" in node:
                raise errors.nul_in_value()
        elif isinstance(node, UploadedFile):
            if not is_lazy(path, lazy):
                raise errors.file_not_expected(_wire_name(path))
            holder = Body()
            holder.file.close()
            holder.file, holder.size = node.file, node.size
            parent[key] = LargeValue(holder, 0, node.size, "raw")


def _wire_name(path: tuple[Any, ...]) -> str:
    return str(path[0]) + "".join(f"[{p}]" for p in path[1:]) if path else "?"


# --- the whole request, in one step ---------------------------------------------------------


@dataclass
class DecodedRequest:
    params: dict[str, Any]
    body: Body | None = None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
        multipart.close_values(v for v in _walk(self.params) if v is not self.body)

    def fingerprint_large_values(self) -> None:
        """Have each big value take its size and sha256 as the method reads it (for the
        request journal, which would otherwise read it a second time)."""
        for value in _walk(self.params):
            value.fingerprinting = True


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, LargeValue | UploadedFile):
            yield item


async def decode_request(
    query_string: str,
    content_type: str,
    stream: AsyncIterator[bytes],
    limit: int,
    lazy: LazyPaths = frozenset(),
    has_body: bool = True,
    limits: InputLimits = DEFAULT_LIMITS,
) -> DecodedRequest:
    """Query and body in one step, for callers that authenticate afterwards or not at all."""
    params = await parse_query(query_string, limits)
    if not has_body:
        return DecodedRequest(params)
    raw = await read_body(content_type, stream, BodyRules(limit, limits), lazy)
    try:
        params.update(await decode_body(raw, lazy, limits))
    except BaseException:
        raw.close()
        raise
    return DecodedRequest(params, raw.body)
