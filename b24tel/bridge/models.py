"""What a bridge keeps while the portal cannot take a call (docs/bridge.md, "When the portal
fails"): the CALL_IDs it answered itself and the portal's for them once forwarded, and the
telephony writes waiting to be forwarded, in order per call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class BridgeCall(Base):
    """A call the bridge registered itself: ``local_id`` is what the connector got,
    ``portal_id`` what the portal answered once the register was forwarded."""

    __tablename__ = "bridge_calls"

    local_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    portal_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BridgeItem(Base):
    """A telephony write waiting for the portal. ``state``: queued, done or failed."""

    __tablename__ = "bridge_queue"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), index=True)  # the local CALL_ID
    method: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # a recording's FILE_CONTENT, kept on disk (base64 text) until it is forwarded
    file_path: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BridgeUpload(Base):
    """An upload link the bridge handed out in place of the portal's: the file comes here,
    is copied, and goes on to ``portal_url`` (which holds the upstream webhook's code)."""

    __tablename__ = "bridge_uploads"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(255))
    portal_url: Mapped[str] = mapped_column(Text)
    field_name: Mapped[str] = mapped_column(String(100))
    # who may use it: the same webhook, or the same application and user
    binding: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
