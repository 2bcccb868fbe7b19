"""The two-step upload endpoint: ``/rest/upload.json?auth=…&token=…`` (OAuth) and
``/rest/<user>/<code>/upload/?token=…`` (webhooks) — docs/reference/telephony.md,
"attachRecord". A raw endpoint of the registry with the `telephony` scope.

The caller authenticates as usual; the token must be ours, unexpired, and issued for this
caller. The multipart part ``file`` streams straight into the recording store; errors come
in the reference's order (missing part, extension, call not finished)."""

from __future__ import annotations

from starlette.responses import Response

from b24tel.errors import body_too_large, link_denied
from b24tel.recordings.errors import FILE_MISSING, IngestError, NotARecording, SizeLimitError
from b24tel.recordings.ingest import Sink, Staging, read_multipart_file
from b24tel.recordings.service import folder_of
from b24tel.rest.registry import Registry
from b24tel.services import EndpointCtx
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.records import FORMATS, attach, check_upload_token, extension


class _Discard:
    """Where the bytes go when the call is not finished: nowhere (the body is still read so
    the client gets our answer)."""

    size = 0

    def write(self, data: bytes) -> None:
        pass


def register(registry: Registry) -> None:
    registry.endpoint("upload", scope="telephony", business_code=errors.business_code)(upload)


async def upload(ctx: EndpointCtx) -> dict[str, int] | Response:
    services, caller = ctx.services, ctx.caller
    assert caller is not None  # a caller endpoint
    # the link is checked before a byte of the body is read
    token = ctx.query.get("token")
    if not isinstance(token, str) or not token:
        raise link_denied()
    if services.bridge is not None:  # a link the bridge handed out (b24tel.bridge.uploads)
        return await services.bridge.upload(ctx)
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

    request = ctx.request
    try:
        reader = await read_multipart_file(
            request.stream(),
            request.headers.get("content-type", ""),
            "file",
            sink,
            services.settings.max_body_size,
        )
        if not reader.found:
            raise errors.recording_refused(FILE_MISSING)
        if extension(reader.filename or "") not in FORMATS:
            raise errors.wrong_extension()
        if stat is None or not created:
            raise errors.not_in_statistic()
        stored = await store.from_staging(created[0], folder_of(stat.call_start_date, services.tz))
    except SizeLimitError as exc:
        raise body_too_large(exc.limit) from exc
    except (IngestError, NotARecording) as exc:
        raise errors.recording_refused(str(exc)) from exc
    finally:
        # an aborted upload, one over the limit or a full disk leaves nothing behind
        for staging in created:
            staging.discard()
    file_id = await attach(services, call_id, stored, name=reader.filename or "", source="upload")
    return {"FILE_ID": file_id}
