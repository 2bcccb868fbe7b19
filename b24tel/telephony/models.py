"""External lines, calls in progress, card state, the statistic table (finished calls),
missed calls and transcripts (docs/reference/telephony.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime

AUTOINC = {"sqlite_autoincrement": True}
WEBHOOK_OWNER = 0  # every incoming webhook shares one owner of app-scoped data


class ExternalLine(Base):
    __tablename__ = "tel_external_lines"
    # unlike the reference's NULL-keyed index, webhook-owned lines are unique too
    __table_args__ = (UniqueConstraint("owner", "number"), AUTOINC)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    owner: Mapped[int] = mapped_column(BigInt)  # application id, or WEBHOOK_OWNER
    number: Mapped[str] = mapped_column(String(50))
    normalized_number: Mapped[str] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(255))
    crm_auto_create: Mapped[str] = mapped_column(String(1), default="Y")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Call(Base):
    """A registered call; ``finished_at`` is set by finish (the reference deletes the row,
    keeping only its CRM links — we keep both)."""

    __tablename__ = "tel_calls"
    __table_args__ = (
        Index("ix_tel_calls_dedup", "owner", "user_id", "caller_id", "incoming", "finished_at"),
        AUTOINC,
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), unique=True)
    external_call_id: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[int] = mapped_column(BigInt)
    rest_app_id: Mapped[int | None] = mapped_column(BigInt)
    user_id: Mapped[int] = mapped_column(BigInt)
    portal_user_id: Mapped[int | None] = mapped_column(BigInt)  # internal calls
    incoming: Mapped[str] = mapped_column(String(50))
    caller_id: Mapped[str] = mapped_column(String(255))
    date_create: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # the call start
    external_line_id: Mapped[int | None] = mapped_column(BigInt)
    portal_number: Mapped[str] = mapped_column(String(255))
    # [[owner type id, owner id], …]: what the call activity binds to
    crm_bindings: Mapped[list[Any] | None] = mapped_column(JSON)
    crm_entity_type: Mapped[str | None] = mapped_column(String(50))
    crm_entity_id: Mapped[int | None] = mapped_column(BigInt)
    crm_created_lead: Mapped[int | None] = mapped_column(BigInt)
    # [{"ENTITY_TYPE": "LEAD", "ENTITY_ID": 7}]
    crm_created_entities: Mapped[list[Any] | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CallCard(Base):
    """Whether the call card is shown to a user, and since when (show/hide)."""

    __tablename__ = "tel_call_cards"

    call_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    state: Mapped[str] = mapped_column(String(10))  # shown / hidden
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Statistic(Base):
    """A finished call (voximplant.statistic.get)."""

    __tablename__ = "tel_statistics"
    # a client's or an operator's calls in a period: one index range each
    __table_args__ = (
        Index("ix_tel_statistics_start", "call_start_date"),
        Index("ix_tel_statistics_phone_start", "phone_number", "call_start_date"),
        Index("ix_tel_statistics_user_start", "portal_user_id", "call_start_date"),
        # the web journal's number filter: any spelling of a number finds its calls
        Index("ix_tel_statistics_phone_normalized", "phone_normalized", "call_start_date"),
        AUTOINC,
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), unique=True)
    external_call_id: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[int] = mapped_column(BigInt)
    portal_user_id: Mapped[int | None] = mapped_column(BigInt)
    portal_number: Mapped[str | None] = mapped_column(String(255))
    phone_number: Mapped[str] = mapped_column(String(255))
    phone_normalized: Mapped[str | None] = mapped_column(String(50))  # b24tel.phones
    incoming: Mapped[str] = mapped_column(String(50))
    call_category: Mapped[str] = mapped_column(String(20), default="external")
    call_log: Mapped[str | None] = mapped_column(String(2000))
    call_duration: Mapped[int] = mapped_column(BigInt, default=0)
    call_start_date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    call_status: Mapped[int] = mapped_column(BigInt)
    call_record_url: Mapped[str | None] = mapped_column(String(2000))
    call_vote: Mapped[int | None] = mapped_column(BigInt)
    cost: Mapped[Decimal] = mapped_column(Numeric(11, 4), default=0)
    cost_currency: Mapped[str] = mapped_column(String(50), default="")
    call_failed_code: Mapped[str] = mapped_column(String(255))
    call_failed_reason: Mapped[str] = mapped_column(String(255), default="")
    crm_entity_type: Mapped[str | None] = mapped_column(String(50))
    crm_entity_id: Mapped[int | None] = mapped_column(BigInt)
    crm_activity_id: Mapped[int | None] = mapped_column(BigInt)
    rest_app_id: Mapped[int | None] = mapped_column(BigInt)
    rest_app_name: Mapped[str | None] = mapped_column(String(255))
    transcript_id: Mapped[int | None] = mapped_column(BigInt)
    transcript_pending: Mapped[str] = mapped_column(String(1), default="N")
    comment: Mapped[str | None] = mapped_column(Text)
    record_file_id: Mapped[int | None] = mapped_column(BigInt)
    # finish's deprecated RECORD_URL, fetched in the background: pending / done / failed
    record_fetch_status: Mapped[str | None] = mapped_column(String(10))
    record_fetch_error: Mapped[str | None] = mapped_column(Text)
    # when the instance now fetching it took it on; a pending fetch whose instance died is
    # taken on again by one other instance (telephony/refetch.py)
    record_fetch_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MissedCall(Base):
    __tablename__ = "tel_missed_calls"

    id: Mapped[int] = mapped_column(
        ForeignKey("tel_statistics.id", ondelete="CASCADE"), primary_key=True
    )
    call_start_date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    phone_number: Mapped[str] = mapped_column(String(255), index=True)
    portal_user_id: Mapped[int | None] = mapped_column(BigInt)
    callback_id: Mapped[int | None] = mapped_column(BigInt)
    callback_call_start_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Transcript(Base):
    __tablename__ = "tel_transcripts"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), index=True)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(11, 4))
    cost_currency: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TranscriptLine(Base):
    __tablename__ = "tel_transcript_lines"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("tel_transcripts.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[str] = mapped_column(String(10))
    start_time: Mapped[int] = mapped_column(BigInt)
    stop_time: Mapped[int] = mapped_column(BigInt)
    message: Mapped[str] = mapped_column(Text)
