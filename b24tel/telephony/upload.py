"""The two-step upload endpoint: ``/rest/upload.json?auth=…&token=…`` (OAuth) and
``/rest/<user>/<code>/upload/?token=…`` (webhooks) — behavior.md §3.4.

The caller authenticates as usual; the token must be ours, unexpired, and issued for this
caller. The multipart part ``file`` streams straight into the recording store; errors come
in the reference's order (missing part, extension, call not finished)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from b24tel import errors
from b24tel.recordings.audio import NotARecording
from b24tel.recordings.ingest import (
    FILE_MISSING,
    IngestError,
    Sink,
    SizeLimitError,
    Staging,
    read_multipart_file,
)
from b24tel.recordings.links import LinkError
from b24tel.recordings.service import folder_of
from b24tel.rest import auth, phpquery
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
    params = phpquery.parse(request.url.query, services.input_limits)
    token = params.get("token")
    # credentials and the link are checked before a byte of the body is read
    caller = await auth.authenticate(
        services, webhook, auth.pop_token(params, request.headers.get("authorization"))
    )
    request.state.caller = caller.limit_key
    if "telephony" not in caller.scopes:
        raise errors.insufficient_scope()
    if not isinstance(token, str) or not token:
        raise LinkError("ACCESS_DENIED", "Access denied! Link check failed", 403)
    call_id = check_upload_token(services, caller, token)
    async with services.db.transaction(readonly=True) as s:
        stat = await repo.statistic(s, call_id)
    store = services.recordings
    created: list[Staging] = []

    def sink() -> Sink:
        if stat is None:
            return _Discard()
        staging = store.new_staging()
        created.append(staging)
        return staging

    try:
        reader = await read_multipart_file(
            request.stream(),
            request.headers.get("content-type", ""),
            "file",
            sink,
            services.settings.max_body_size,
        )
        if not reader.found:
            raise failure(FILE_MISSING)
        if extension(reader.filename or "") not in ("wav", "mp3"):
            raise failure(texts.WRONG_EXTENSION)
        if stat is None or not created:
            raise failure(texts.NOT_IN_STATISTIC)
        stored = await store.from_staging(created[0], folder_of(stat.call_start_date, services.tz))
    except SizeLimitError as exc:
        raise errors.body_too_large(exc.limit) from exc
    except (IngestError, NotARecording) as exc:
        raise failure(str(exc)) from exc
    finally:
        # an aborted upload, one over the limit or a full disk leaves nothing behind
        for staging in created:
            staging.discard()
    file_id = await attach(
        services, failure, call_id, stored, name=reader.filename or "", source="upload"
    )
    timing.handler_end = services.clock.time()
    return json_response(
        success_body({"FILE_ID": file_id}, timing.block(services.clock.time(), services.tz))
    )
