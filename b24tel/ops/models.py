"""What operations keep: the audit of erasures and the leases that let one instance of
many run a periodic job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class Erasure(Base):
    """One `b24tel erase --phone` run: who asked, when, what it touched. The number itself
    is not kept — only its sha256, so a repeated request can be matched to this one."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    number_sha256: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobLease(Base):
    """Who runs a periodic job until when: claimed with a conditional update, so of many
    instances exactly one runs it at a time."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Instance(Base):
    """A running `b24tel serve` (or `events deliver`) process on this database: the address
    it listens on, whether it delivers events, and a heartbeat. Commands run beside a server
    read the portal's address here and know whether anyone will deliver what they queue."""

    __tablename__ = "server_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(BigInt)
    delivers: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
