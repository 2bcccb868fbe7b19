"""Server-wide values kept in the database so every instance shares them (the server
secret, the portal member id, the request-rate buckets and operating time on PostgreSQL)."""

from __future__ import annotations

import secrets

from sqlalchemy import Boolean, Float, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base


class ServerState(Base):
    __tablename__ = "server_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateBucket(Base):
    """The leaky bucket of one webhook or application, shared by every instance
    (rest/limits.SharedRateLimiter)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)  # unix seconds of the last request
    refused: Mapped[bool] = mapped_column(Boolean)  # whether that request was refused


class OperatingTime(Base):
    """Handler seconds of one webhook or application in one method and one minute, shared
    by every instance (rest/limits.SharedOperatingLimiter)."""

    __tablename__ = "operating_time"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    method: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[float] = mapped_column(Float, primary_key=True)  # unix seconds, minute start
    seconds: Mapped[float] = mapped_column(Float)


async def get_or_create(session: AsyncSession, key: str, make: str | None = None) -> str:
    row = await session.get(ServerState, key)
    if row is not None:
        return row.value
    value = make if make is not None else secrets.token_hex(32)
    session.add(ServerState(key=key, value=value))
    await session.flush()
    # two instances starting at once: the first insert wins, both read it back
    row = (await session.execute(select(ServerState).where(ServerState.key == key))).scalar_one()
    return row.value
