"""``b24tel erase --phone NUMBER``: a data subject's erasure request. Every call with that
number (any spelling: b24tel.phones), its recordings with their earlier versions, its
transcript, the number in its CRM activities, missed-call rows and request-journal entries
that mention the calls or the number — removed or anonymised, with a report, audited in
the ``erasures`` table (which keeps the number's sha256, never the number).

Calls go in bounded batches. Each batch removes the recording objects first, then, in one
short transaction, deletes the transcripts, anonymises the activities and the call rows
(which stops them matching) and adds its counts to the audit row; a run killed at any point
is finished by the next one, which continues the same audit row."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.clock import Clock
from b24tel.crm.models import Activity, ActivityCommunication, Multifield
from b24tel.db.engine import Database
from b24tel.journal.models import JournalRow
from b24tel.ops.models import Erasure
from b24tel.recordings import repository as recordings_repo
from b24tel.recordings.service import Recordings
from b24tel.telephony.models import Call, MissedCall, Statistic, Transcript, TranscriptLine

ERASED = "[erased]"
REASON = "erasure"
BATCH = 50
# a run of characters that may spell a phone number inside free text; it starts only where
# no digit precedes and never gives back what it took, so any text is read once (trailing
# separators are handed back in Python)
_PHONE_RUN = re.compile(r"(?<![0-9+])\+?[0-9][0-9\s().\-]*+")
_SEPARATORS = " \t\r\n().-"
MIN_RUN = 6
# journal rows read at a time when looking for the number in any spelling
JOURNAL_PAGE = 500


class NotANumber(ValueError):
    pass


@dataclass
class Counts:
    calls: list[str] = field(default_factory=list)
    recording_files: int = 0
    recording_bytes: int = 0
    transcripts: int = 0
    activities: int = 0
    missed_calls: int = 0
    journal_entries: int = 0
    # CRM records that hold the number: reported, not changed (they are the CRM's own
    # data: edit or delete them with crm.*.update / crm.*.delete)
    crm_records: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.calls += other.calls
        for name in ("recording_files", "recording_bytes", "transcripts", "activities"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed_calls += other.missed_calls
        self.journal_entries += other.journal_entries
        self.crm_records += [r for r in other.crm_records if r not in self.crm_records]

    def lines(self) -> list[str]:
        return [
            f"calls: {len(self.calls)}" + (f" ({', '.join(self.calls)})" if self.calls else ""),
            f"recording files (every version): {self.recording_files} "
            f"({self.recording_bytes} bytes)",
            f"transcripts: {self.transcripts}",
            f"CRM activities anonymised: {self.activities}",
            f"missed-call rows: {self.missed_calls}",
            f"request-journal entries: {self.journal_entries}",
            "CRM records with the number, left as they are (edit or delete them in the CRM): "
            + (", ".join(self.crm_records) or "none"),
        ]


class Eraser:
    def __init__(self, db: Database, recordings: Recordings, region: str, clock: Clock) -> None:
        self.db = db
        self.recordings = recordings
        self.region = region
        self.clock = clock
        self.spellings: set[str] = set()  # the number as the operator typed it

    def key(self, number: str) -> str:
        key = phones.normalize(number, self.region)
        if key is None or len(key) < 5:
            raise NotANumber(f"{number!r} is not a phone number")
        self.spellings = {number.strip(), "+" + key}
        return key

    def _same(self, text: str | None, key: str) -> bool:
        return bool(text) and phones.normalize(text or "", self.region) == key

    def _scrub(self, text: str | None, key: str) -> str | None:
        if not text:
            return text

        def replace(match: re.Match[str]) -> str:
            run = match.group()
            core = run.rstrip(_SEPARATORS)
            if len(core) >= MIN_RUN and self._same(core, key):
                return ERASED + run[len(core) :]
            return run

        return _PHONE_RUN.sub(replace, text)

    def mentions(self, text: str | None, key: str) -> bool:
        """Whether ``text`` holds the number in any spelling, also percent-escaped (a batch
        command, a query string)."""
        if not text:
            return False
        variants = [text]
        while "%" in variants[-1] and len(variants) < 3:
            variants.append(unquote_plus(variants[-1], errors="replace"))
        return any(self._scrub(v, key) != v for v in variants)

    # --- what is touched -----------------------------------------------------------------

    async def _call_ids(self, s: AsyncSession, key: str, limit: int | None) -> list[str]:
        stats = select(Statistic.call_id).where(Statistic.phone_normalized == key)
        found = list((await s.execute(stats.order_by(Statistic.id).limit(limit))).scalars())
        # registered calls not finished yet have no statistic row
        for row in (await s.execute(_digits_like(Call.caller_id, key))).scalars():
            if self._same(row.caller_id, key) and row.call_id not in found:
                found.append(row.call_id)
        return found[:limit] if limit else found

    async def _activities(self, s: AsyncSession, key: str, call_ids: Sequence[str]) -> list[Any]:
        linked = select(Activity).where(Activity.origin_id.in_([f"VI_{c}" for c in call_ids]))
        acts = {a.id: a for a in (await s.execute(linked)).scalars()}
        comms = (await s.execute(_digits_like(ActivityCommunication.value, key))).scalars()
        loose = [c.activity_id for c in comms if self._same(c.value, key)]
        if loose:
            for act in (await s.execute(select(Activity).where(Activity.id.in_(loose)))).scalars():
                acts.setdefault(act.id, act)
        return list(acts.values())

    async def _journal_ids(self, s: AsyncSession, key: str, call_ids: Sequence[str]) -> list[int]:
        """Entries whose request, answer or URL holds one of the calls, or — with no calls
        left — the number in any spelling (a searchCrmEntities or a batch whose only link
        to the calls is the number)."""
        texts = (cast(JournalRow.params, Text), cast(JournalRow.result, Text), JournalRow.url)
        if call_ids:
            needles = {*call_ids, key, *self.spellings}
            stmt = select(JournalRow.id).where(
                or_(*(t.contains(n, autoescape=True) for t in texts for n in needles))
            )
            return list((await s.execute(stmt)).scalars())
        found: list[int] = []
        last = 0
        while True:
            page = select(JournalRow.id, *texts).where(JournalRow.id > last)
            rows = (await s.execute(page.order_by(JournalRow.id).limit(JOURNAL_PAGE))).all()
            if not rows:
                return found
            found += [r[0] for r in rows if any(self.mentions(t, key) for t in r[1:])]
            last = rows[-1][0]

    # --- the run -------------------------------------------------------------------------

    async def survey(self, number: str) -> Counts:
        """What an erasure would touch (``--dry-run``): nothing changes."""
        key = self.key(number)
        counts = Counts()
        async with self.db.transaction(readonly=True) as s:
            counts.calls = await self._call_ids(s, key, None)
            files = await recordings_repo.of_calls(s, counts.calls)
            counts.recording_files = len(files)
            counts.recording_bytes = sum(f.size for f in files)
            counts.transcripts = len(await _transcripts(s, counts.calls))
            counts.activities = len(await self._activities(s, key, counts.calls))
            counts.missed_calls = len(await self._missed(s, key))
            by_calls = await self._journal_ids(s, key, counts.calls) if counts.calls else []
            counts.journal_entries = len({*by_calls, *await self._journal_ids(s, key, [])})
            counts.crm_records = await _crm_records(s, key)
        return counts

    async def erase(self, number: str, requested_by: str, batch: int = BATCH) -> Counts:
        key = self.key(number)
        audit_id = await self._audit(key, requested_by)
        while True:
            async with self.db.transaction(readonly=True) as s:
                call_ids = await self._call_ids(s, key, batch)
                files = list(await recordings_repo.of_calls(s, call_ids))
            done = Counts()
            if files:
                await self.recordings.remove_files(self.db, files, REASON)
            async with self.db.transaction() as s:
                if call_ids:
                    await self._erase_calls(s, key, call_ids, done)
                else:  # what is left: rows that name the number without a call
                    missed = await self._missed(s, key)
                    await s.execute(delete(MissedCall).where(MissedCall.id.in_(missed)))
                    done.missed_calls = len(missed)
                    done.activities = await self._anonymise(s, key, [])
                    done.journal_entries = await self._forget_journal(s, key, [])
                    done.crm_records = await _crm_records(s, key)
                total = await self._count(s, audit_id, done, finished=not call_ids)
            if not call_ids:
                return total

    async def _erase_calls(
        self, s: AsyncSession, key: str, call_ids: list[str], done: Counts
    ) -> None:
        done.calls = call_ids
        # counted here, with the calls: exact even when a killed run removed some already
        erased = await recordings_repo.erased_of_calls(s, call_ids)
        done.recording_files, done.recording_bytes = len(erased), sum(f.size for f in erased)
        for row in erased:  # a file name or a RECORD_URL may spell the number
            row.name = self._scrub(row.name, key) or ""
            row.source_url = self._scrub(row.source_url, key)
        transcripts = await _transcripts(s, call_ids)
        if transcripts:
            await s.execute(
                delete(TranscriptLine).where(TranscriptLine.transcript_id.in_(transcripts))
            )
            await s.execute(delete(Transcript).where(Transcript.id.in_(transcripts)))
        done.transcripts = len(transcripts)
        done.activities = await self._anonymise(s, key, call_ids)
        done.journal_entries = await self._forget_journal(s, key, call_ids)
        stats = select(Statistic).where(Statistic.call_id.in_(call_ids))
        for stat in (await s.execute(stats)).scalars():
            stat.phone_number, stat.phone_normalized = ERASED, None
            stat.call_record_url = None
            stat.comment = self._scrub(stat.comment, key)
            stat.call_failed_reason = self._scrub(stat.call_failed_reason, key) or ""
            stat.record_fetch_error = self._scrub(stat.record_fetch_error, key)
            stat.transcript_id, stat.transcript_pending = None, "N"
            if stat.record_fetch_status == "pending":  # its RECORD_URL is gone with it
                stat.record_fetch_status, stat.record_fetch_error = "failed", "erased"
        for call in (await s.execute(select(Call).where(Call.call_id.in_(call_ids)))).scalars():
            call.caller_id = ERASED
            call.comment = self._scrub(call.comment, key)

    async def _anonymise(self, s: AsyncSession, key: str, call_ids: Sequence[str]) -> int:
        acts = await self._activities(s, key, call_ids)
        for act in acts:
            act.subject = self._scrub(act.subject, key) or ""
            act.description = self._scrub(act.description, key) or ""
            if act.origin_id in {f"VI_{c}" for c in call_ids}:
                act.storage_element_ids = []  # the recordings are erased
        if acts:
            comms = select(ActivityCommunication).where(
                ActivityCommunication.activity_id.in_([a.id for a in acts])
            )
            for comm in (await s.execute(comms)).scalars():
                if self._same(comm.value, key):
                    comm.value = ERASED
        return len(acts)

    async def _forget_journal(self, s: AsyncSession, key: str, call_ids: Sequence[str]) -> int:
        ids = await self._journal_ids(s, key, call_ids)
        if ids:
            await s.execute(delete(JournalRow).where(JournalRow.id.in_(ids)))
        return len(ids)

    async def _missed(self, s: AsyncSession, key: str) -> list[int]:
        rows = (await s.execute(_digits_like(MissedCall.phone_number, key))).scalars()
        return [r.id for r in rows if self._same(r.phone_number, key)]

    # --- the audit -----------------------------------------------------------------------

    async def _audit(self, key: str, requested_by: str) -> int:
        """The audit row of this number's unfinished erasure (a rerun continues it), or a
        new one."""
        sha = hashlib.sha256(key.encode()).hexdigest()
        async with self.db.transaction() as s:
            open_row = (
                await s.execute(
                    select(Erasure)
                    .where(Erasure.number_sha256 == sha, Erasure.finished_at.is_(None))
                    .order_by(Erasure.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if open_row is not None:
                return open_row.id
            row = Erasure(
                number_sha256=sha,
                requested_by=requested_by[:255],
                started_at=self.clock.now(),
                report=dataclasses.asdict(Counts()),
            )
            s.add(row)
            await s.flush()
            return row.id

    async def _count(self, s: AsyncSession, audit_id: int, done: Counts, finished: bool) -> Counts:
        row = await s.get(Erasure, audit_id)
        assert row is not None
        total = Counts(**(row.report or {}))
        total.add(done)
        row.report = dataclasses.asdict(total)
        if finished:
            row.finished_at = self.clock.now()
        return total


async def _transcripts(s: AsyncSession, call_ids: Sequence[str]) -> list[int]:
    if not call_ids:
        return []
    stmt = select(Transcript.id).where(Transcript.call_id.in_(call_ids))
    return list((await s.execute(stmt)).scalars())


async def _crm_records(s: AsyncSession, key: str) -> list[str]:
    stmt = (
        select(Multifield.entity_type, Multifield.entity_id)
        .where(Multifield.type_id == "PHONE", Multifield.normalized == key)
        .distinct()
        .order_by(Multifield.entity_type, Multifield.entity_id)
    )
    return [f"{kind.lower()} {ident}" for kind, ident in (await s.execute(stmt)).all()]


def _digits_like(column: Any, key: str) -> Any:
    """Rows whose text may hold the number: its last seven digits in a row, or spread over
    the usual separators (checked exactly by normalising afterwards)."""
    tail = key[-7:]
    spread = "%".join(tail)  # "+7 916 000-12-34" has the digits with separators between
    entity = column.class_
    return select(entity).where(column.like(f"%{spread}%")).order_by(entity.id)
