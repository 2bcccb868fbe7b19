"""Upload links in bridge mode (docs/bridge.md, "What is copied"): ``attachRecord`` without
content answers the portal's ``uploadUrl``; the connector gets a link of ours instead, of
the same shape, so that the file passes here — copied as a version of the call's
recording — and goes on to the portal's link. The portal's answer comes back as it came.

The portal's link holds the upstream webhook's code: it stays in the database, never in
an answer, a log line or the journal (``shown`` masks it).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from b24tel.bridge.errors import upstream_unreachable
from b24tel.bridge.mirror import Mirror
from b24tel.bridge.models import BridgeUpload
from b24tel.bridge.upstream import Answer, Upstream, UpstreamUnreachable
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.errors import body_too_large, link_denied
from b24tel.identity import Caller
from b24tel.recordings.errors import FILE_MISSING, IngestError, NotARecording, SizeLimitError
from b24tel.recordings.ingest import Staging, read_multipart_file
from b24tel.recordings.service import Recordings, folder_of
from b24tel.rest.context import EndpointContext
from b24tel.rest.envelope import COMMON_HEADERS
from b24tel.telephony import errors
from b24tel.telephony.records import FORMATS, binding, extension, upload_link

PREFIX = "bridge|"
# journals the leg passed on: the URL as shown, the portal's answer or why there was none
Recorder = Callable[[str, Answer | None, str | None], None]


class Uploads:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        upstream: Upstream,
        mirror: Mirror,
        recordings: Recordings,
        ttl: int,
    ) -> None:
        self.db, self.clock, self.upstream, self.mirror = db, clock, upstream, mirror
        self.recordings, self.ttl = recordings, ttl

    async def ours(
        self, caller: Caller, rest_url: str, call_id: str, result: dict[str, Any]
    ) -> dict[str, Any]:
        """The portal's upload link kept; the connector's answer with ours in its place."""
        portal_url = str(result.get("uploadUrl") or "")
        if not self.upstream.owns(portal_url):
            return result  # not a link of the portal's: passed on as it came
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.db.transaction() as s:
            s.add(BridgeUpload(
                token=token, call_id=call_id, portal_url=portal_url,
                field_name=str(result.get("fieldName") or "file"), binding=binding(caller),
                expires_at=now + dt.timedelta(seconds=self.ttl),
            ))  # fmt: skip
        return {**result, "uploadUrl": upload_link(caller, rest_url, PREFIX + token)}

    async def receive(self, ctx: EndpointContext[Any], record: Recorder) -> Response:
        """The connector's file: read to disk, passed on to the portal's link, copied here
        when the portal took it."""
        caller = ctx.caller
        assert caller is not None  # a caller endpoint
        token = ctx.query.get("token")
        upload = await self._find(caller, token if isinstance(token, str) else "")
        staging = self.recordings.new_staging()
        try:
            filename = await self._read(ctx, staging)
            staging.finish()
            try:
                answer = await self.upstream.upload(
                    upload.portal_url, upload.field_name, filename, staging.path
                )
            except UpstreamUnreachable as exc:
                record(self.upstream.shown + "upload/", None, str(exc))
                raise upstream_unreachable(str(exc)) from None
            record(self.upstream.shown + "upload/", answer, None)
            if answer.status == 200 and b'"FILE_ID"' in answer.body:
                await self._copy(upload.call_id, staging, filename)
        finally:
            staging.discard()
        headers = {**COMMON_HEADERS, "Content-Type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    async def _find(self, caller: Caller, token: str) -> BridgeUpload:
        async with self.db.transaction(readonly=True) as s:
            found = await s.get(BridgeUpload, token.removeprefix(PREFIX)) if token else None
        if found is None or found.binding != binding(caller):
            raise link_denied()
        if found.expires_at < self.clock.now():
            raise link_denied()
        return found

    async def _read(self, ctx: EndpointContext[Any], staging: Staging) -> str:
        """The multipart ``file`` part into ``staging``; its file name. The reference's
        checks that need no call: the part is there, the extension is wav or mp3."""
        request = ctx.request
        try:
            reader = await read_multipart_file(
                request.stream(),
                request.headers.get("content-type", ""),
                "file",
                lambda: staging,
                ctx.services.settings.max_body_size,
            )
        except SizeLimitError as exc:
            raise body_too_large(exc.limit) from exc
        except IngestError as exc:
            raise errors.recording_refused(str(exc)) from exc
        if not reader.found:
            raise errors.recording_refused(FILE_MISSING)
        if extension(reader.filename or "") not in FORMATS:
            raise errors.wrong_extension()
        return reader.filename or "record.wav"

    async def _copy(self, call_id: str, staging: Staging, filename: str) -> None:
        start = await self.mirror.start_of(call_id)
        if start is None:
            return
        try:
            stored = await self.recordings.from_staging(staging, folder_of(start, self.mirror.tz))
        except (IngestError, NotARecording):
            return  # the portal took what is no recording to us: nothing to copy
        await self.mirror.keep(call_id, stored, name=filename, source="upload")
