"""Recording files: what the API returns as FILE_ID, and every earlier version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class RecordingFile(Base):
    __tablename__ = "recording_files"
    # FILE_IDs are handed to clients: never reuse one
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    # the client's name; same-named files in one folder are fine
    name: Mapped[str] = mapped_column(String(255))
    # "YYYY-MM" of the call start, as the reference's "Telephony - recorded calls" folders
    folder: Mapped[str] = mapped_column(String(7), index=True)
    owner_id: Mapped[int | None] = mapped_column(BigInt)
    call_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column(BigInt)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50))
    codec: Mapped[str] = mapped_column(String(20))
    duration: Mapped[float] = mapped_column(Float)
    channels: Mapped[int] = mapped_column(BigInt)
    sample_rate: Mapped[int] = mapped_column(BigInt)
    bit_rate: Mapped[int] = mapped_column(BigInt)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # content / upload / url
    source_url: Mapped[str | None] = mapped_column(String(2000))
    # an earlier version: kept until the retention period ends, then its bytes are removed
    replaced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    replaced_by: Mapped[int | None] = mapped_column(BigInt)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # why the bytes went: replaced (an earlier version past retention), retention
    # (recording_max_age_days) or erasure (`b24tel erase`); None on older rows
    deleted_reason: Mapped[str | None] = mapped_column(String(10))
