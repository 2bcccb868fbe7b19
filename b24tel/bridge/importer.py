"""``b24tel bridge import``: the portal's call history copied into the local journal
(docs/bridge.md, "Importing the portal's history").

Pages of ``voximplant.statistic.get`` (oldest first), and for each call the recording the
portal still has (``disk.file.get``, then its ``DOWNLOAD_URL``). A call is written with its
recording in one unit of work, after the bytes are stored: a run killed at any point leaves
whole calls only, and the next run skips every CALL_ID already here — so a rerun adds
nothing twice and picks up where the last one stopped. Calls to the portal keep to
``upstream_rate`` like the bridge's own forwarding.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from b24tel import phones
from b24tel.bridge.service import Bridge
from b24tel.bridge.upstream import UpstreamUnreachable
from b24tel.recordings.errors import IngestError, NotARecording
from b24tel.recordings.service import StoredRecording, folder_of
from b24tel.telephony.models import WEBHOOK_OWNER, Call, Statistic

DOWNLOADS = 4  # recordings downloaded at once


class ImportFailed(Exception):
    """The portal refused or could not be read: the run stops, what it copied stays."""


@dataclass
class Progress:
    total: int = 0
    seen: int = 0
    imported: int = 0
    recordings: int = 0
    skipped: int = 0  # already here
    unrecorded: list[str] | None = None  # recordings the portal has that could not be read


class Importer:
    def __init__(self, bridge: Bridge, region: str) -> None:
        self.bridge, self.region = bridge, region
        self.db = bridge.queue.db
        self.mirror = bridge.mirror

    async def run(self, since: dt.datetime | None, step: Callable[[Progress], None]) -> Progress:
        progress = Progress(unrecorded=[])
        start = 0
        while True:
            page = await self._page(since, start)
            progress.total = int(page.get("total") or 0)
            rows = [r for r in page.get("result") or [] if isinstance(r, dict)]
            await self._rows(rows, progress, step)
            if "next" not in page or not rows:
                return progress
            start = int(page["next"])

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.bridge.pace.turn()
        try:
            answer = await self.bridge.upstream.call(method, params)
        except UpstreamUnreachable as exc:
            raise ImportFailed(str(exc)) from None
        body = _json(answer.body)
        if answer.status != 200 or "error" in body:
            why = body.get("error_description") or body.get("error") or f"HTTP {answer.status}"
            raise ImportFailed(f"the portal refused {method}: {why}")
        return body

    async def _rows(
        self, rows: list[dict[str, Any]], progress: Progress, step: Callable[[Progress], None]
    ) -> None:
        """One page: the calls not here yet, a few recordings downloading at once."""
        here = await self._here([str(r.get("CALL_ID") or "") for r in rows])
        files = await self._files([r for r in rows if str(r.get("CALL_ID")) not in here])
        gate = asyncio.Semaphore(DOWNLOADS)

        async def one(row: dict[str, Any]) -> None:
            async with gate:
                await self._one(row, here, files, progress)
            progress.seen += 1
            step(progress)

        await asyncio.gather(*(one(row) for row in rows))

    async def _files(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """``disk.file.get`` of a page's recordings in one ``batch``: one call to the portal
        instead of fifty (its rate is the import's limit)."""
        wanted = {str(r["RECORD_FILE_ID"]) for r in rows if r.get("RECORD_FILE_ID")}
        if not wanted:
            return {}
        cmd = {f"f{file_id}": f"disk.file.get?id={file_id}" for file_id in sorted(wanted)}
        body = await self._call("batch", {"halt": 0, "cmd": cmd})
        found = (body.get("result") or {}).get("result") or {}
        return {k[1:]: v for k, v in found.items() if isinstance(v, dict)} if isinstance(
            found, dict) else {}  # fmt: skip

    async def _page(self, since: dt.datetime | None, start: int) -> dict[str, Any]:
        params: dict[str, Any] = {"SORT": "ID", "ORDER": "ASC", "start": start}
        if since is not None:
            params["FILTER"] = {">=CALL_START_DATE": since.isoformat()}
        return await self._call("voximplant.statistic.get", params)

    async def _here(self, call_ids: list[str]) -> set[str]:
        async with self.db.transaction(readonly=True) as s:
            found = await s.scalars(
                select(Statistic.call_id).where(Statistic.call_id.in_(call_ids))
            )
            return set(found)

    async def _one(
        self, row: dict[str, Any], here: set[str], files: dict[str, dict[str, Any]],
        progress: Progress,
    ) -> None:  # fmt: skip
        call_id = str(row.get("CALL_ID") or "")
        if not call_id or call_id in here:
            progress.skipped += 1
            return
        start = _when(row.get("CALL_START_DATE")) or self.bridge.clock.now()
        stored, name = None, ""
        file_id = row.get("RECORD_FILE_ID")
        if file_id:
            info = files.get(str(file_id), {})
            stored, name = await self._recording(info, start, progress, call_id)
        try:
            written = await self._write(row, call_id, start, stored, name)
        except BaseException:
            written = False
            raise
        finally:
            if stored is not None and not written:
                await self.mirror.recordings.discard(stored)
        progress.imported += written
        progress.skipped += not written
        progress.recordings += written and stored is not None

    async def _recording(
        self, info: dict[str, Any], start: dt.datetime, progress: Progress, call_id: str
    ) -> tuple[StoredRecording | None, str]:
        """The recording the portal still has (``info`` from ``disk.file.get``), stored
        here; its name."""
        assert progress.unrecorded is not None
        url = str(info.get("DOWNLOAD_URL") or "")
        if not self.bridge.upstream.owns(url):
            progress.unrecorded.append(f"{call_id}: no download link of the portal's")
            return None, ""
        where = folder_of(start, self.mirror.tz)
        try:
            stored = await self.bridge.upstream.download(
                url, lambda chunks: self.mirror.recordings.from_stream(chunks, where)
            )
        except (UpstreamUnreachable, IngestError, NotARecording) as exc:
            progress.unrecorded.append(f"{call_id}: {exc}")
            return None, ""
        return stored, str(info.get("NAME") or f"{call_id}.{_extension(stored)}")

    async def _write(
        self, row: dict[str, Any], call_id: str, start: dt.datetime,
        stored: StoredRecording | None, name: str,
    ) -> bool:  # fmt: skip
        """The call and its recording in one unit of work; False when it is here already."""
        now = self.bridge.clock.now()
        number = str(row.get("PHONE_NUMBER") or "")
        user = _int(row.get("PORTAL_USER_ID"))
        duration = _int(row.get("CALL_DURATION")) or 0
        incoming = str(row.get("CALL_TYPE") or "1")
        entity_type = str(row.get("CRM_ENTITY_TYPE") or "") or None
        async with self.db.transaction() as s:
            if await s.scalar(select(Statistic.id).where(Statistic.call_id == call_id)):
                return False  # another run took it meanwhile
            s.add(Call(
                call_id=call_id, external_call_id=row.get("EXTERNAL_CALL_ID") or None,
                owner=WEBHOOK_OWNER, rest_app_id=None, user_id=user or 0, portal_user_id=None,
                incoming=incoming, caller_id=number, date_create=start, external_line_id=None,
                portal_number=str(row.get("PORTAL_NUMBER") or ""), crm_bindings=[],
                crm_created_entities=[], crm_entity_type=entity_type,
                crm_entity_id=_int(row.get("CRM_ENTITY_ID")), created_at=now, finished_at=now,
            ))  # fmt: skip
            stat = Statistic(
                call_id=call_id, external_call_id=row.get("EXTERNAL_CALL_ID") or None,
                owner=WEBHOOK_OWNER, portal_user_id=user,
                portal_number=str(row.get("PORTAL_NUMBER") or ""), phone_number=number,
                phone_normalized=(phones.normalize(number, self.region) or "")[:50] or None,
                incoming=incoming, call_duration=duration, call_start_date=start,
                call_status=1 if duration > 0 else 0, call_vote=_int(row.get("CALL_VOTE")),
                cost=_money(row.get("COST")), cost_currency=str(row.get("COST_CURRENCY") or ""),
                call_failed_code=str(row.get("CALL_FAILED_CODE") or "200"),
                call_failed_reason=str(row.get("CALL_FAILED_REASON") or ""),
                call_record_url=row.get("CALL_RECORD_URL") or None,
                crm_entity_type=entity_type, crm_entity_id=_int(row.get("CRM_ENTITY_ID")),
                crm_activity_id=_int(row.get("CRM_ACTIVITY_ID")),
                comment=row.get("COMMENT") or None,
            )  # fmt: skip
            s.add(stat)
            if stored is not None:
                file = await self.mirror.recordings.add_file(
                    s, stored, name=name, owner_id=user,
                    folder=stored.key.split("/", 1)[0], call_id=call_id, source="url",
                    source_url=None,
                )  # fmt: skip
                stat.record_file_id = file.id
        return True


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _when(value: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value or 0))
    except InvalidOperation:
        return Decimal(0)


def _extension(stored: StoredRecording) -> str:
    return "mp3" if "mpeg" in stored.info.content_type else "wav"
