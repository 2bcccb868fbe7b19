"""Field definitions of the legacy CRM entities: wire name → column, type, flags, title.

One table per entity drives add/update (what is writable and how it is coerced), get/list
(how it is rendered: IDs and numbers as strings, as the docs show them), filters and
`crm.<entity>.fields`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b24tel.crm.models import Company, Contact, CrmRow, Deal, Lead
from b24tel.db.filters import Kind

# wire kind → (crm.X.fields "type", filter kind)
KINDS: dict[str, tuple[str, Kind]] = {
    "id": ("integer", "int"),
    "int": ("integer", "int"),
    "user": ("user", "int"),
    "link": ("crm_entity", "int"),
    "str": ("string", "str"),
    "text": ("string", "str"),
    "status": ("crm_status", "str"),
    "yn": ("char", "str"),
    "datetime": ("datetime", "datetime"),
    "money": ("double", "float"),
    "currency": ("crm_currency", "str"),
}


@dataclass(frozen=True)
class Field:
    wire: str
    attr: str
    kind: str
    title: str
    readonly: bool = False
    required: bool = False
    status_type: str | None = None
    # writable only with params[IMPORT]=Y (docs/reference/crm.md, "Entities")
    import_only: bool = False


@dataclass(frozen=True)
class EntityDef:
    name: str  # CONTACT
    title: str  # Contact (for "Contact is not found")
    owner_type_id: int
    model: type[CrmRow]
    fields: tuple[Field, ...]
    multifields: bool
    defaults: dict[str, Any] = field(default_factory=dict)
    # one of these must be non-empty on add (contacts: a name; companies: a title)
    required_any: tuple[str, ...] = ()
    delete_not_found: tuple[str, str] = ("", "Not found")

    @property
    def by_wire(self) -> dict[str, Field]:
        return {f.wire: f for f in self.fields}

    @property
    def method_prefix(self) -> str:
        return f"crm.{self.name.lower()}"


def _common(*, person: bool) -> list[Field]:
    fields = [
        Field("ID", "id", "id", "ID", readonly=True),
        Field("ASSIGNED_BY_ID", "assigned_by_id", "user", "Responsible person"),
        Field(
            "CREATED_BY_ID", "created_by_id", "user", "Created by", readonly=True, import_only=True
        ),
        Field(
            "MODIFY_BY_ID", "modify_by_id", "user", "Modified by", readonly=True, import_only=True
        ),
        Field(
            "DATE_CREATE", "date_create", "datetime", "Created on", readonly=True, import_only=True
        ),
        Field(
            "DATE_MODIFY", "date_modify", "datetime", "Modified on", readonly=True, import_only=True
        ),
        Field("OPENED", "opened", "yn", "Available to everyone"),
        Field("COMMENTS", "comments", "text", "Comment"),
        Field("SOURCE_ID", "source_id", "status", "Source", status_type="SOURCE"),
        Field("SOURCE_DESCRIPTION", "source_description", "text", "Source information"),
        Field("ORIGINATOR_ID", "originator_id", "str", "External source"),
        Field("ORIGIN_ID", "origin_id", "str", "Item ID in data source"),
        Field("ORIGIN_VERSION", "origin_version", "str", "Original version"),
    ]
    if person:
        fields += [
            Field("HONORIFIC", "honorific", "status", "Salutation", status_type="HONORIFIC"),
            Field("NAME", "name", "str", "First name"),
            Field("SECOND_NAME", "second_name", "str", "Middle name"),
            Field("LAST_NAME", "last_name", "str", "Last name"),
            Field("POST", "post", "str", "Position"),
        ]
    return fields


CONTACT = EntityDef(
    "CONTACT",
    "Contact",
    3,
    Contact,
    (
        *_common(person=True),
        Field("TYPE_ID", "type_id", "status", "Contact type", status_type="CONTACT_TYPE"),
        Field("COMPANY_ID", "company_id", "link", "Company"),
        Field("LEAD_ID", "lead_id", "link", "Lead", readonly=True),
        Field("EXPORT", "export", "yn", "Included in export"),
    ),
    multifields=True,
    defaults={"opened": "Y", "export": "Y", "type_id": "CLIENT"},
    required_any=("NAME", "LAST_NAME", "SECOND_NAME"),
    delete_not_found=("ERROR_CORE", "Element not found"),
)

COMPANY = EntityDef(
    "COMPANY",
    "Company",
    4,
    Company,
    (
        *_common(person=False),
        Field("TITLE", "title", "str", "Company name", required=True),
        Field("COMPANY_TYPE", "company_type", "status", "Company type", status_type="COMPANY_TYPE"),
        Field("INDUSTRY", "industry", "status", "Industry", status_type="INDUSTRY"),
        Field("EMPLOYEES", "employees", "status", "Employees", status_type="EMPLOYEES"),
        Field("CURRENCY_ID", "currency_id", "currency", "Currency"),
        Field("REVENUE", "revenue", "money", "Annual revenue"),
        Field("IS_MY_COMPANY", "is_my_company", "yn", "My company"),
        Field("LEAD_ID", "lead_id", "link", "Lead", readonly=True),
    ),
    multifields=True,
    defaults={"opened": "Y", "company_type": "CUSTOMER", "is_my_company": "N"},
    required_any=("TITLE",),
    delete_not_found=("", "Company is not found"),
)

LEAD = EntityDef(
    "LEAD",
    "Lead",
    1,
    Lead,
    (
        *_common(person=True),
        Field("TITLE", "title", "str", "Lead name"),
        Field("STATUS_ID", "status_id", "status", "Stage", status_type="STATUS"),
        Field("STATUS_DESCRIPTION", "status_description", "text", "Additional info about stage"),
        Field("STATUS_SEMANTIC_ID", "status_semantic_id", "str", "Status details", readonly=True),
        Field("COMPANY_TITLE", "company_title", "str", "Company name"),
        Field("COMPANY_ID", "company_id", "link", "Company"),
        Field("CONTACT_ID", "contact_id", "link", "Contact"),
        Field("OPPORTUNITY", "opportunity", "money", "Amount"),
        Field("CURRENCY_ID", "currency_id", "currency", "Currency"),
        Field("IS_RETURN_CUSTOMER", "is_return_customer", "yn", "Repeat lead", readonly=True),
    ),
    multifields=True,
    defaults={"opened": "Y", "status_id": "NEW", "status_semantic_id": "P"},
)

DEAL = EntityDef(
    "DEAL",
    "Deal",
    2,
    Deal,
    (
        *_common(person=False),
        Field("TITLE", "title", "str", "Name"),
        Field("TYPE_ID", "type_id", "status", "Type", status_type="DEAL_TYPE"),
        Field("CATEGORY_ID", "category_id", "int", "Pipeline"),
        Field("STAGE_ID", "stage_id", "status", "Stage", status_type="DEAL_STAGE"),
        Field("STAGE_SEMANTIC_ID", "stage_semantic_id", "str", "Stage group", readonly=True),
        Field("CLOSED", "closed", "yn", "Closed"),
        Field("COMPANY_ID", "company_id", "link", "Company"),
        Field("CONTACT_ID", "contact_id", "link", "Contact"),
        Field("LEAD_ID", "lead_id", "link", "Lead"),
        Field("OPPORTUNITY", "opportunity", "money", "Amount"),
        Field("CURRENCY_ID", "currency_id", "currency", "Currency"),
        Field("BEGINDATE", "begindate", "datetime", "Start date"),
        Field("CLOSEDATE", "closedate", "datetime", "Estimated close date"),
    ),
    multifields=False,
    defaults={
        "opened": "Y",
        "stage_id": "NEW",
        "stage_semantic_id": "P",
        "closed": "N",
        "category_id": 0,
        "type_id": "SALE",
    },
)

ENTITIES: dict[str, EntityDef] = {e.name: e for e in (CONTACT, COMPANY, LEAD, DEAL)}
BY_OWNER_TYPE: dict[int, EntityDef] = {e.owner_type_id: e for e in ENTITIES.values()}

MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
MULTIFIELD_TITLES = {
    "PHONE": "Phone",
    "EMAIL": "E-mail",
    "WEB": "Website",
    "IM": "Messenger",
    "LINK": "Link",
}
HAS_FLAGS = {"HAS_PHONE": "PHONE", "HAS_EMAIL": "EMAIL", "HAS_IMOL": "IM"}


def describe(f: Field) -> dict[str, Any]:
    """One entry of `crm.<entity>.fields` (docs/reference/crm.md, "Entities")."""
    out: dict[str, Any] = {
        "type": KINDS[f.kind][0],
        "isRequired": f.required,
        "isReadOnly": f.readonly,
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": False,
        "title": f.title,
    }
    if f.status_type:
        out["statusType"] = f.status_type
    return out


def describe_entity(entity: EntityDef) -> dict[str, Any]:
    out = {f.wire: describe(f) for f in entity.fields}
    for name in entity.required_any:
        out[name]["isRequired"] = True
    if entity.multifields:
        for flag in HAS_FLAGS:
            out[flag] = {**describe(Field(flag, "", "yn", flag.title(), readonly=True))}
        for mtype in ("PHONE", "EMAIL", "WEB", "IM", "LINK"):
            out[mtype] = {
                "type": "crm_multifield",
                "isRequired": False,
                "isReadOnly": False,
                "isImmutable": False,
                "isMultiple": True,
                "isDynamic": False,
                "title": MULTIFIELD_TITLES[mtype],
            }
    return out
