"""The request journal: one row per request, batch command and event delivery
(docs/integrators.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class JournalRow(Base):
    __tablename__ = "journal"
    __table_args__ = (
        Index("ix_journal_at", "at"),
        Index("ix_journal_method", "method"),
        Index("ix_journal_caller", "caller"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(255))
    caller: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInt)
    http_method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(16))
    params: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[int] = mapped_column(BigInt)
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(255))
    error_description: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    bytes_in: Mapped[int] = mapped_column(BigInt)
    bytes_out: Mapped[int] = mapped_column(BigInt)
    client: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(Text)
    fault: Mapped[str | None] = mapped_column(Text)
