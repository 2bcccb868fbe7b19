"""The two-step upload endpoint: ``/rest/upload.json?auth=…&token=…`` (OAuth) and
``/rest/<user>/<code>/upload/?token=…`` (webhooks) — behavior.md §3.4.

The caller authenticates as usual; the token must be ours, unexpired, and issued for this
caller. The multipart part ``file`` streams straight into the recording store; errors come
in the reference's order (missing part, extension, call not finished)."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from b24tel import errors
from b24tel.recordings.audio import NotARecording
from b24tel.recordings.ingest import (
    FILE_MISSING,
    IngestError,
    SizeLimitError,
    Staging,
    read_multipart_file,
)
from b24tel.recordings.links import LinkError
from b24tel.recordings.service import folder_of
from b24tel.rest import auth, phpquery
from b24tel.rest.decoding import drain
from b24tel.rest.envelope import Timing, json_response, success_body
from b24tel.services import Services
from b24tel.telephony import errors as texts
from b24tel.telephony import repository as repo
from b24tel.telephony.errors import Errors
from b24tel.telephony.record_service import attach, check_upload_token, extension


class _Discard:
    """Where the bytes go when the call is not finished: nowhere (the body is still read so
    the client gets our answer)."""

    size = 0

    def write(self, data: bytes) -> None:
        pass


async def upload(services: Services, request: Request, webhook: tuple[str, str] | None) -> Response:
    timing = Timing(start=services.clock.time())
    timing.handler_start = timing.start
    failure = Errors(services.settings.telephony_error_code)
    params = phpquery.parse(request.url.query)
    token = params.get("token")
    try:
        caller = await auth.authenticate(
            services, webhook, auth.pop_token(params, request.headers.get("authorization"))
        )
        if "telephony" not in caller.scopes:
            raise errors.insufficient_scope()
        if not isinstance(token, str) or not token:
            raise LinkError("ACCESS_DENIED", "Access denied! Link check failed", 403)
        call_id = check_upload_token(services, caller, token)
    except BaseException:
        await drain(request.stream())
        raise
    async with services.db.transaction(readonly=True) as s:
        stat = await repo.statistic(s, call_id)
    store = services.recordings
    staging = None
    try:
        reader = await read_multipart_file(
            request.stream(),
            request.headers.get("content-type", ""),
            "file",
            store.new_staging if stat is not None else _Discard,
            services.settings.max_body_size,
        )
        staging = cast(Staging, reader.sink) if stat is not None else None
        if not reader.found:
            raise failure(FILE_MISSING)
        if extension(reader.filename or "") not in ("wav", "mp3"):
            raise failure(texts.WRONG_EXTENSION)
        if stat is None or staging is None:
            raise failure(texts.NOT_IN_STATISTIC)
        stored = await store.from_staging(staging, folder_of(stat.call_start_date, services.tz))
    except SizeLimitError as exc:
        await drain(request.stream())
        raise errors.body_too_large(exc.limit) from exc
    except (IngestError, NotARecording) as exc:
        await drain(request.stream())
        raise failure(str(exc)) from exc
    finally:
        if staging is not None:
            staging.discard()
    file_id = await attach(
        services, failure, call_id, stored, name=reader.filename or "", source="upload"
    )
    timing.handler_end = services.clock.time()
    return json_response(
        success_body({"FILE_ID": file_id}, timing.block(services.clock.time(), services.tz))
    )
