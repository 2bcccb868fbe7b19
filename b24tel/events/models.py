"""Subscriptions, the outbox of deliveries, and the offline queue (docs/reference/events.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class OutgoingWebhook(Base):
    """A local integration's outgoing webhook: online events to a handler, signed with its
    own application token (no OAuth tokens in the payload)."""

    __tablename__ = "outgoing_webhooks"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    handler: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EventBinding(Base):
    """``event.bind`` of an application, or one event of an outgoing webhook."""

    __tablename__ = "event_bindings"
    # `binding_key` is unique: what makes two bindings the same, owner included (an
    # application or an outgoing webhook; a unique index over the columns could not cover
    # the NULL of the other owner), so binds sent at once cannot duplicate one
    __table_args__ = (
        Index("ix_event_bindings_event", "event"),
        UniqueConstraint("binding_key", name="uq_event_bindings_binding_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    outgoing_id: Mapped[int | None] = mapped_column(
        ForeignKey("outgoing_webhooks.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(100))
    # "" for offline bindings, which have no handler
    handler: Mapped[str] = mapped_column(Text, default="")
    # the user whose token the handler receives; 0 = the user who caused the event
    auth_type: Mapped[int] = mapped_column(BigInt, default=0)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_connector: Mapped[str] = mapped_column(String(255), default="")
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(BigInt)  # who bound it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    binding_key: Mapped[str] = mapped_column(String(64))

    @staticmethod
    def key_of(
        owner: str, event: str, handler: str, auth_type: int, offline: bool, connector: str
    ) -> str:
        """``owner``: ``app:<id>`` or ``out:<id>``."""
        parts = [owner, event, handler, str(auth_type), "1" if offline else "0", connector]
        return hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogatepass")).hexdigest()


class HandlerHealth(Base):
    """A handler's circuit breaker, shared by every instance: after `event_breaker_failures`
    attempts in a row that got no answer in time, no delivery goes to it until
    `open_until`; then one at a time until one is answered."""

    __tablename__ = "event_handler_health"

    handler_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256
    handler: Mapped[str] = mapped_column(Text)
    timeouts: Mapped[int] = mapped_column(BigInt, default=0)  # in a row
    trips: Mapped[int] = mapped_column(BigInt, default=0)  # times opened in a row
    open_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One event for one handler: written in the transaction of the change that caused it,
    sent after commit, retried until delivered or out of time."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
        Index("ix_event_deliveries_order", "ordering_key", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(100))
    handler: Mapped[str] = mapped_column(Text)
    # the binding it came from (event_handler_id); None for ONAPPINSTALL and the like
    binding_id: Mapped[int | None] = mapped_column(BigInt)
    app_id: Mapped[int | None] = mapped_column(BigInt)
    outgoing_id: Mapped[int | None] = mapped_column(BigInt)
    # whose access token goes into `auth` (app handlers); None: no tokens
    auth_user_id: Mapped[int | None] = mapped_column(BigInt)
    # the subscriber's application token at the time of the event: the handler checks it,
    # and it signs the request (an uninstalled app's last events still carry its own)
    application_token: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any] = mapped_column(JSON)
    # deliveries of one handler about one entity go out in order
    ordering_key: Mapped[str] = mapped_column(String(255))
    # pending → sending → delivered | dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(BigInt, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # a claim by a worker runs out at this time (a worker that died gives its claims back)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # HTTP status of each attempt, comma-separated ("0" when none came back)
    status_codes: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_latency_ms: Mapped[int | None] = mapped_column(BigInt)


class OfflineEvent(Base):
    """The offline queue of an application: one row per object, the latest change."""

    __tablename__ = "offline_events"
    __table_args__ = (
        Index("ix_offline_events_queue", "app_id", "auth_connector", "process_id"),
        Index("ix_offline_events_message", "app_id", "message_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    auth_connector: Mapped[str] = mapped_column(String(255), default="")
    event_name: Mapped[str] = mapped_column(String(100))
    event_data: Mapped[Any] = mapped_column(JSON)
    event_additional: Mapped[Any | None] = mapped_column(JSON)
    message_id: Mapped[str] = mapped_column(String(64))
    timestamp_x: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    process_id: Mapped[str] = mapped_column(String(64), default="")
    reserved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[bool] = mapped_column(Boolean, default=False)
