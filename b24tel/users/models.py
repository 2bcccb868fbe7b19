"""Users, incoming webhooks, OAuth applications and their tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime


class User(Base):
    __tablename__ = "users"
    # IDs are visible to clients: never reuse one after a delete
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    second_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # the extension, digits only (docs/reference/users.md, "user.get"); how connectors map a
    # PBX extension to a USER_ID
    uf_phone_inner: Mapped[str | None] = mapped_column(String(20), index=True)
    work_phone: Mapped[str] = mapped_column(String(50), default="")
    personal_mobile: Mapped[str] = mapped_column(String(50), default="")
    personal_phone: Mapped[str] = mapped_column(String(50), default="")
    work_position: Mapped[str] = mapped_column(String(255), default="")
    personal_gender: Mapped[str] = mapped_column(String(1), default="")
    time_zone: Mapped[str] = mapped_column(String(50), default="")
    date_register: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Webhook(Base):
    __tablename__ = "webhooks"
    # IDs are visible to clients: never reuse one after a delete
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # sha256 of the secret code: the code itself is shown once, at creation
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class App(Base):
    """A local application (docs/reference/users.md, "OAuth"): client id/secret valid only
    on this portal."""

    __tablename__ = "apps"
    # IDs are visible to clients: never reuse one after a delete
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(BigInt, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # where ONAPPINSTALL/ONAPPUNINSTALL go (the local app's "handler path")
    handler_url: Mapped[str] = mapped_column(Text, default="", server_default="")
    # events reach an application only while it is installed (docs/reference/events.md)
    installed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    installed_by: Mapped[int | None] = mapped_column(BigInt)


class OAuthToken(Base):
    """An access/refresh pair. Only hashes are stored; a refresh replaces the row's hashes
    so the old refresh token stops working."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    access_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OAuthCode(Base):
    """A one-time authorization code for ``grant_type=authorization_code``."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
