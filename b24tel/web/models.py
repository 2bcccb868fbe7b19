"""Passwords, sessions, one-time sign-in links and failed sign-ins of the web interface."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime

AUTOINC = {"sqlite_autoincrement": True}


class WebPassword(Base):
    __tablename__ = "web_passwords"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[str] = mapped_column(String(255))  # scrypt, with its parameters and salt
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser. Only the hash of the cookie's token is kept; signing out
    revokes the row, so a stolen cookie stops working on every instance at once."""

    __tablename__ = "web_sessions"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginLink(Base):
    __tablename__ = "web_login_links"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A wrong password, counted per login name for the attempt limit."""

    __tablename__ = "web_login_failures"
    __table_args__ = (Index("ix_web_login_failures_login_at", "login", "at"), AUTOINC)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
