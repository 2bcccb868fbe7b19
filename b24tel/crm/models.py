"""CRM tables: contacts, companies, leads, deals, their multifields, status lists and the
activities (with bindings and communications) that calls create."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt, UTCDateTime

# IDs are visible to clients: never reuse one after a delete
AUTOINC = {"sqlite_autoincrement": True}


class _Entity:
    """Columns every CRM entity has."""

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    assigned_by_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    created_by_id: Mapped[int | None] = mapped_column(BigInt)
    modify_by_id: Mapped[int | None] = mapped_column(BigInt)
    date_create: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    date_modify: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opened: Mapped[str] = mapped_column(String(1), default="Y")
    comments: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(String(50))
    source_description: Mapped[str | None] = mapped_column(Text)
    originator_id: Mapped[str | None] = mapped_column(String(255))
    origin_id: Mapped[str | None] = mapped_column(String(255))
    origin_version: Mapped[str | None] = mapped_column(String(255))


class _Person:
    honorific: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(100))
    second_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    post: Mapped[str | None] = mapped_column(String(255))


class Contact(_Entity, _Person, Base):
    __tablename__ = "crm_contacts"
    __table_args__ = AUTOINC

    type_id: Mapped[str | None] = mapped_column(String(50))
    company_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    lead_id: Mapped[int | None] = mapped_column(BigInt)
    export: Mapped[str] = mapped_column(String(1), default="Y")


class Company(_Entity, Base):
    __tablename__ = "crm_companies"
    __table_args__ = AUTOINC

    title: Mapped[str | None] = mapped_column(String(255))
    company_type: Mapped[str | None] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(50))
    employees: Mapped[str | None] = mapped_column(String(50))
    currency_id: Mapped[str | None] = mapped_column(String(3))
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    is_my_company: Mapped[str] = mapped_column(String(1), default="N")
    lead_id: Mapped[int | None] = mapped_column(BigInt)


class Lead(_Entity, _Person, Base):
    __tablename__ = "crm_leads"
    __table_args__ = AUTOINC

    title: Mapped[str | None] = mapped_column(String(255))
    status_id: Mapped[str | None] = mapped_column(String(50))
    status_description: Mapped[str | None] = mapped_column(Text)
    status_semantic_id: Mapped[str | None] = mapped_column(String(1))
    company_title: Mapped[str | None] = mapped_column(String(255))
    company_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    contact_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    opportunity: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency_id: Mapped[str | None] = mapped_column(String(3))
    is_return_customer: Mapped[str] = mapped_column(String(1), default="N")


class Deal(_Entity, Base):
    __tablename__ = "crm_deals"
    __table_args__ = AUTOINC

    title: Mapped[str | None] = mapped_column(String(255))
    type_id: Mapped[str | None] = mapped_column(String(50))
    category_id: Mapped[int] = mapped_column(BigInt, default=0)
    stage_id: Mapped[str | None] = mapped_column(String(50))
    stage_semantic_id: Mapped[str | None] = mapped_column(String(1))
    closed: Mapped[str] = mapped_column(String(1), default="N")
    company_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    contact_id: Mapped[int | None] = mapped_column(BigInt, index=True)
    lead_id: Mapped[int | None] = mapped_column(BigInt)
    opportunity: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency_id: Mapped[str | None] = mapped_column(String(3))
    begindate: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closedate: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Multifield(Base):
    """PHONE / EMAIL / WEB / IM values of contacts, companies and leads. ``normalized`` is
    the lookup key (E.164 digits for phones, lower case for e-mail), indexed, so a phone
    search never scans the entity tables."""

    __tablename__ = "crm_multifields"
    __table_args__ = (
        # covers the phone lookup, so no planner prefers the owner index (a scan)
        Index("ix_crm_multifields_lookup", "type_id", "normalized", "entity_type", "entity_id"),
        Index("ix_crm_multifields_owner", "entity_type", "entity_id"),
        AUTOINC,
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInt)
    type_id: Mapped[str] = mapped_column(String(10))
    value_type: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(String(255))
    normalized: Mapped[str] = mapped_column(String(255))


class Status(Base):
    """Reference lists (`crm.status.list`): SOURCE, STATUS, DEAL_STAGE, …"""

    __tablename__ = "crm_statuses"
    __table_args__ = (
        Index("ix_crm_statuses_entity", "entity_id", "status_id", unique=True),
        AUTOINC,
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    entity_id: Mapped[str] = mapped_column(String(50))
    status_id: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    sort: Mapped[int] = mapped_column(BigInt)
    system: Mapped[str] = mapped_column(String(1), default="N")
    semantics: Mapped[str | None] = mapped_column(String(1))
    color: Mapped[str | None] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(BigInt)


class Activity(Base):
    __tablename__ = "crm_activities"
    __table_args__ = (Index("ix_crm_activities_owner", "owner_type_id", "owner_id"), AUTOINC)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    owner_type_id: Mapped[int] = mapped_column(BigInt)
    owner_id: Mapped[int] = mapped_column(BigInt)
    type_id: Mapped[int] = mapped_column(BigInt)
    provider_id: Mapped[str | None] = mapped_column(String(100))
    provider_type_id: Mapped[str | None] = mapped_column(String(100))
    provider_group_id: Mapped[str | None] = mapped_column(String(100))
    associated_entity_id: Mapped[int] = mapped_column(BigInt, default=0)
    subject: Mapped[str] = mapped_column(String(512))
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed: Mapped[str] = mapped_column(String(1), default="N")
    status: Mapped[int] = mapped_column(BigInt, default=1)
    responsible_id: Mapped[int] = mapped_column(BigInt, index=True)
    priority: Mapped[int] = mapped_column(BigInt, default=2)
    notify_type: Mapped[int] = mapped_column(BigInt, default=0)
    notify_value: Mapped[int] = mapped_column(BigInt, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    description_type: Mapped[int] = mapped_column(BigInt, default=1)
    direction: Mapped[int] = mapped_column(BigInt, default=0)
    location: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_updated: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(BigInt)
    editor_id: Mapped[int | None] = mapped_column(BigInt)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    provider_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    provider_data: Mapped[str | None] = mapped_column(Text)
    originator_id: Mapped[str | None] = mapped_column(String(255))
    origin_id: Mapped[str | None] = mapped_column(String(255), index=True)
    result_mark: Mapped[int] = mapped_column(BigInt, default=0)
    result_value: Mapped[str | None] = mapped_column(String(255))
    result_sum: Mapped[str | None] = mapped_column(String(50))
    result_currency_id: Mapped[str | None] = mapped_column(String(3))
    result_status: Mapped[int] = mapped_column(BigInt, default=0)
    result_stream: Mapped[int] = mapped_column(BigInt, default=0)
    result_source_id: Mapped[str | None] = mapped_column(String(50))
    autocomplete_rule: Mapped[int] = mapped_column(BigInt, default=0)
    # where FILES live: 3 = the recording store (the reference's "disk")
    storage_type_id: Mapped[int | None] = mapped_column(BigInt)
    storage_element_ids: Mapped[list[Any] | None] = mapped_column(JSON)


class ActivityBinding(Base):
    __tablename__ = "crm_activity_bindings"
    __table_args__ = (Index("ix_crm_activity_bindings_owner", "owner_type_id", "owner_id"),)

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("crm_activities.id", ondelete="CASCADE"), primary_key=True
    )
    owner_type_id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInt, primary_key=True)


class ActivityCommunication(Base):
    __tablename__ = "crm_activity_communications"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("crm_activities.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(255))
    entity_id: Mapped[int | None] = mapped_column(BigInt)
    entity_type_id: Mapped[int | None] = mapped_column(BigInt)


# a row of any of the four entities
CrmRow = Contact | Company | Lead | Deal
