"""The bridge's own copy of each call (docs/bridge.md, "What is copied"): once the portal
took a telephony write, or the queue did, the same call, finish, recording and transcript
are written here too, so the call journal, pages, CSV, search, retention, erasure and
backups work on them as on calls of this server.

The copy follows the portal's answer: the call under the portal's CALL_ID (ours while the
register waits, renamed when it is forwarded), the CRM binding and activity the portal
reported. Every recording is kept — the portal replaces a call's recording, here the
earlier one stays as a version. A copy that cannot be made is logged, never turned into an
error for the connector: the portal has the call.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors, phones
from b24tel.bridge.models import BridgeCall
from b24tel.bridge.queue import REGISTER
from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.recordings.errors import FetchError, IngestError, NotARecording
from b24tel.recordings.fetcher import SafeFetcher, file_name_from_url
from b24tel.recordings.service import Recordings, StoredRecording, folder_of
from b24tel.rest.params import Params, ParseContext
from b24tel.rest.spool import LargeValue
from b24tel.telephony import repository as repo
from b24tel.telephony.finish import failed_code
from b24tel.telephony.models import WEBHOOK_OWNER, Call, Statistic
from b24tel.telephony.schemas import (
    AttachRecordParams,
    FinishParams,
    RegisterParams,
    TranscriptionParams,
)
from b24tel.telephony.transcripts import attach_transcription

log = logging.getLogger("b24tel.bridge")

FINISH = "telephony.externalcall.finish"
ATTACH = "telephony.externalcall.attachrecord"
TRANSCRIPTION = "telephony.call.attachtranscription"
COPIED = frozenset({REGISTER, FINISH, ATTACH, TRANSCRIPTION})


class Mirror:
    def __init__(
        self,
        db: Database,
        recordings: Recordings,
        fetcher: SafeFetcher,
        clock: Clock,
        tz: ZoneInfo,
        region: str,
    ) -> None:
        self.db, self.recordings, self.fetcher = db, recordings, fetcher
        self.clock, self.tz, self.region = clock, tz, region

    async def copy(self, key: str, params: dict[str, Any], result: Any) -> None:
        """Keep here what the portal (or the queue) took; ``result`` is what the connector
        got."""
        if key not in COPIED:
            return
        try:
            if key == REGISTER:
                await self._register(params, result)
            elif key == FINISH:
                await self._finish(params, result)
            elif key == ATTACH:
                await self._attach(params)
            else:
                await self._transcript(params)
        except Exception as exc:  # the portal has the call: the connector's answer stands
            if errors.database_away(exc):
                log.warning("no local copy of %s: the database is unavailable", key)
            elif isinstance(exc, errors.ApiError | FetchError | IngestError | NotARecording):
                log.warning("no local copy of %s: %s", key, exc)
            else:
                log.exception("no local copy of %s", key)

    def _parse(self, model: type[Params], params: dict[str, Any]) -> Any:
        context = ParseContext(self.tz, self.clock.now()).mapping()
        return model.model_validate(params, context=context)

    async def _register(self, params: dict[str, Any], result: Any) -> None:
        if not isinstance(result, dict) or not result.get("CALL_ID"):
            return
        p: RegisterParams = self._parse(RegisterParams, params)
        now = self.clock.now()
        created = result.get("CRM_CREATED_ENTITIES")
        call = Call(
            call_id=str(result["CALL_ID"]), external_call_id=p.external_call_id,
            owner=WEBHOOK_OWNER, rest_app_id=None, user_id=p.user_id, portal_user_id=None,
            incoming=p.call_type or "1", caller_id=p.phone_number,
            date_create=p.start or now, external_line_id=None, portal_number=p.line_number,
            crm_bindings=[], crm_created_entities=created if isinstance(created, list) else [],
            crm_entity_type=str(result.get("CRM_ENTITY_TYPE") or "") or None,
            crm_entity_id=_id(result.get("CRM_ENTITY_ID")),
            crm_created_lead=_id(result.get("CRM_CREATED_LEAD")), created_at=now,
        )  # fmt: skip
        async with self.db.transaction() as s:
            if await repo.open_call(s, call.call_id) is None:
                await repo.add(s, call)

    async def _finish(self, params: dict[str, Any], result: Any) -> None:
        p: FinishParams = self._parse(FinishParams, params)
        async with self.db.transaction() as s:
            call_id = await _ours(s, p.call_id or "")
            call = await repo.open_call(s, call_id, lock=True)
            if call is None or await repo.statistic(s, call_id) is not None:
                return  # a call from before the bridge, or a finish copied already
            reported = result if isinstance(result, dict) else {}
            stat = Statistic(
                call_id=call_id, external_call_id=call.external_call_id, owner=call.owner,
                portal_user_id=p.user_id or call.user_id or None,
                portal_number=call.portal_number, phone_number=call.caller_id,
                phone_normalized=(phones.normalize(call.caller_id, self.region) or "")[:50]
                or None,
                incoming=call.incoming, call_duration=p.duration,
                call_start_date=call.date_create, call_status=1 if p.duration > 0 else 0,
                call_vote=p.vote, cost=p.cost, cost_currency=p.cost_currency,
                call_failed_code=str(reported.get("CALL_FAILED_CODE")
                                     or failed_code(p.status_code, p.duration)),
                call_failed_reason=p.failed_reason, call_record_url=p.record_url or None,
                crm_entity_type=call.crm_entity_type, crm_entity_id=call.crm_entity_id,
                crm_activity_id=_id(reported.get("CRM_ACTIVITY_ID")),
            )  # fmt: skip
            await repo.add(s, stat)
            call.finished_at = self.clock.now()
        if p.record_url:
            await self._fetch(call_id, p.record_url, "")

    async def _attach(self, params: dict[str, Any]) -> int | None:
        p: AttachRecordParams = self._parse(AttachRecordParams, params)
        if p.record_url:
            await self._fetch(p.call_id, p.record_url, p.filename or "")
            return None
        if p.file_content is None or not p.filename:
            return None  # an upload link: copied when the file comes (Bridge.upload)
        chunks: Iterable[bytes] = (
            p.file_content.iter_bytes()
            if isinstance(p.file_content, LargeValue)
            else [p.file_content.encode("utf-8", "replace")]
        )
        start = await self.start_of(p.call_id)
        if start is None:
            return None
        stored = await self.recordings.from_base64(chunks, folder_of(start, self.tz))
        return await self.keep(p.call_id, stored, name=p.filename, source="content")

    async def content_first(self, params: dict[str, Any]) -> int | None:
        """``bridge_record_mode = url``: the recording kept here before the portal hears of
        it; its FILE_ID, or None when it cannot be (the call is not copied here, or the
        recording is refused) — then it goes on as it came."""
        try:
            return await self._attach(params)
        except (errors.ApiError, IngestError, NotARecording) as exc:
            log.warning("recording kept as it came, not as a link: %s", exc)
            return None

    async def _fetch(self, call_id: str, url: str, filename: str) -> None:
        """The portal downloads a RECORD_URL for itself; the copy here is a download of
        its own, through the same guarded fetcher as on a portal of ours."""
        start = await self.start_of(call_id)
        if start is None:
            return
        where = folder_of(start, self.tz)
        stored = await self.fetcher.fetch_into(
            url, lambda chunks: self.recordings.from_stream(chunks, where)
        )
        name = filename.replace("\\", "/").rsplit("/", 1)[-1] or file_name_from_url(url)
        await self.keep(call_id, stored, name=name or "record.mp3", source="url", url=url)

    async def start_of(self, call_id: str) -> dt.datetime | None:
        """When the call began, if it is copied here and finished (a recording belongs to a
        finished call, as on the portal)."""
        async with self.db.transaction(readonly=True) as s:
            stat = await repo.statistic(s, await _ours(s, call_id))
        return stat.call_start_date if stat is not None else None

    async def keep(
        self, call_id: str, stored: StoredRecording, *, name: str, source: str,
        url: str | None = None,
    ) -> int | None:  # fmt: skip
        """A new version of the call's recording; the one before stays. Its FILE_ID."""
        store = self.recordings
        try:
            async with self.db.transaction() as s:
                ours = await _ours(s, call_id)
                stat = await repo.statistic(s, ours, lock=True)
                if stat is None:
                    await store.discard(stored)
                    return None
                row = await store.add_file(
                    s, stored, name=name, owner_id=stat.portal_user_id,
                    folder=stored.key.split("/", 1)[0], call_id=ours, source=source,
                    source_url=url,
                )  # fmt: skip
                await store.mark_replaced(s, stat.record_file_id, row)
                stat.record_file_id, stat.call_record_url = row.id, url
                return row.id
        except BaseException:
            await store.discard(stored)
            raise

    async def _transcript(self, params: dict[str, Any]) -> None:
        p: TranscriptionParams = self._parse(TranscriptionParams, params)
        async with self.db.transaction() as s:
            ours = await _ours(s, p.call_id or "")
            await attach_transcription(s, self.clock.now(), p.model_copy(update={"call_id": ours}))


async def _ours(s: AsyncSession, call_id: str) -> str:
    """The CALL_ID the copy is kept under: the portal's once the bridge has it. The mapping
    row is locked so that a forward renaming the call waits for this unit of work."""
    mapped = await s.scalar(
        select(BridgeCall.portal_id).where(BridgeCall.local_id == call_id).with_for_update()
    )
    return mapped or call_id


def _id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None
