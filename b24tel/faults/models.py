"""Fault rules (docs/integrators.md, "Breaking the portal on purpose")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class FaultRule(Base):
    __tablename__ = "fault_rules"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    # what it matches; empty matches anything
    method: Mapped[str] = mapped_column(String(255), default="*")  # a glob, any case
    caller: Mapped[str] = mapped_column(String(64), default="")  # webhook:1, app:2, user:3
    kind: Mapped[str] = mapped_column(String(16), default="")  # method, batch, upload, …
    param: Mapped[str] = mapped_column(String(255), default="")
    value: Mapped[str] = mapped_column(Text, default="")
    # what it does
    effect: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[int] = mapped_column(BigInt, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    latency_min_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # how often: every match, a probability, the next N, after the first N, a time window
    probability: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int | None] = mapped_column(BigInt)
    times: Mapped[int | None] = mapped_column(BigInt)
    after: Mapped[int] = mapped_column(BigInt, default=0)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # bookkeeping, shared by every instance
    matched: Mapped[int] = mapped_column(BigInt, default=0)
    fired: Mapped[int] = mapped_column(BigInt, default=0)
    source: Mapped[str] = mapped_column(Text, default="cli")  # cli, api, file:<path>
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
