"""``/rest/download.json``: a recording's bytes, by signed link or by normal REST auth with
the `disk` scope (a raw endpoint of the registry).

GET and HEAD; HTTP Range (single ranges: ``a-b``, ``a-``, ``-n``; 416 when unsatisfiable);
``ETag`` (the sha256) with ``If-None-Match``; ``Content-Disposition`` safe for any name.
Bytes stream from the storage backend without loading the file."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from b24tel.errors import ApiError
from b24tel.recordings import repository as repo
from b24tel.recordings.links import PURPOSE
from b24tel.recordings.models import RecordingFile
from b24tel.rest.envelope import COMMON_HEADERS
from b24tel.rest.registry import Registry
from b24tel.services import EndpointCtx, Services
from b24tel.wire.php import opt_int

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


def not_found(file_id: int, status: int = 404) -> ApiError:
    return ApiError("ERROR_NOT_FOUND", f"Could not find entity with id `{file_id}`", status)


# why a file's bytes are gone, as the client reads it (the reference keeps files forever:
# a file it no longer has is simply not found, so the code stays ERROR_NOT_FOUND)
GONE = {
    "retention": "was deleted by retention (recording_max_age_days)",
    "erasure": "was erased on request (b24tel erase)",
}


def gone(row: RecordingFile, status: int) -> ApiError:
    reason = GONE.get(row.deleted_reason or "")
    if reason is None:
        return not_found(row.id, status)
    return ApiError("ERROR_NOT_FOUND", f"File `{row.id}` {reason}", status)


def bad_id() -> ApiError:
    return ApiError(
        "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}", 400, {"argument": "id"}
    )


async def live_file(
    services: Services, file_id: int | None, *, missing_status: int = 404
) -> RecordingFile:
    """The file a client asks for (disk.file.get and downloads): its row, unless removed."""
    if file_id is None or file_id <= 0:
        raise bad_id()
    async with services.db.transaction(readonly=True) as session:
        row = await repo.get(session, file_id)
    if row is None:
        raise not_found(file_id, missing_status)
    if row.deleted_at is not None:
        raise gone(row, missing_status)
    return row


def content_disposition(name: str) -> str:
    """Both forms: an ASCII fallback and the exact UTF-8 name (RFC 6266/5987)."""
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", name) or "recording"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _position(digits: str) -> str:
    digits = digits.lstrip("0") or ("0" if digits else "")
    return "9" * 19 if len(digits) > 18 else digits


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(start, end) inclusive; None for the whole file; False when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple or malformed ranges: answer with the whole file
    # past 18 digits a position is past any file (and ``int`` refuses 4 300 digits)
    first, last = (_position(g) for g in (match.group(1), match.group(2)))
    if not first:  # suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def register(registry: Registry) -> None:
    @registry.endpoint("download", scope="disk", auth="link_or_caller", link_purpose=PURPOSE)
    async def download(ctx: EndpointCtx) -> Response:
        raw = ctx.link.get("f") if ctx.link is not None else ctx.query.get("id")
        row = await live_file(ctx.services, opt_int(raw))
        return await answer(ctx, row)


async def answer(ctx: EndpointCtx, row: RecordingFile) -> Response:
    request, storage = ctx.request, ctx.services.recordings.storage
    etag = f'"{row.sha256}"'
    headers = {
        **COMMON_HEADERS,
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(row.name),
        "Cache-Control": "private, max-age=0",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    size = row.size
    wanted = byte_range(request.headers.get("range"), size)
    if wanted is False:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    status = 206 if wanted else 200
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=row.content_type)
    try:  # fail before the status line if the object is gone
        await storage.stat(row.storage_key)
    except FileNotFoundError as exc:
        raise not_found(row.id) from exc
    body = storage.open(row.storage_key, start, end if size else None)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=row.content_type)
