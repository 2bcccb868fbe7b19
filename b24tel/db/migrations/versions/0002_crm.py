"""crm: contacts, companies, leads, deals, multifields, statuses, activities

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# the reference's default lists (crm.status.list; docs/reference/crm.md, "Statuses")
# (entity, status id, name, sort, semantics, color)
DEFAULT_STATUSES = [
    ("SOURCE", "CALL", "Call", 10, None, None),
    ("SOURCE", "EMAIL", "E-Mail", 20, None, None),
    ("SOURCE", "WEB", "Website", 30, None, None),
    ("SOURCE", "ADVERTISING", "Advertising", 40, None, None),
    ("SOURCE", "PARTNER", "Existing client", 50, None, None),
    ("SOURCE", "RECOMMENDATION", "By recommendation", 60, None, None),
    ("SOURCE", "TRADE_SHOW", "Show/Exhibition", 70, None, None),
    ("SOURCE", "WEBFORM", "CRM form", 80, None, None),
    ("SOURCE", "CALLBACK", "Callback", 90, None, None),
    ("SOURCE", "RC_GENERATOR", "Sales boost", 100, None, None),
    ("SOURCE", "STORE", "Online Store", 110, None, None),
    ("SOURCE", "OTHER", "Other", 120, None, None),
    ("STATUS", "NEW", "Unassigned", 10, None, "#2FC6F6"),
    ("STATUS", "IN_PROCESS", "In progress", 20, None, "#55D0E0"),
    ("STATUS", "PROCESSED", "Processed", 30, None, "#FFA900"),
    ("STATUS", "JUNK", "Junk lead", 40, "F", "#FF5752"),
    ("STATUS", "CONVERTED", "Good lead", 50, "S", "#7BD500"),
    ("DEAL_STAGE", "NEW", "New", 10, None, "#39A8EF"),
    ("DEAL_STAGE", "PREPARATION", "Document preparation", 20, None, "#2FC6F6"),
    ("DEAL_STAGE", "PREPAYMENT_INVOICE", "Prepayment invoice", 30, None, "#55D0E0"),
    ("DEAL_STAGE", "EXECUTING", "In progress", 40, None, "#47E4C2"),
    ("DEAL_STAGE", "FINAL_INVOICE", "Final invoice", 50, None, "#FFA900"),
    ("DEAL_STAGE", "WON", "Deal won", 60, "S", "#7BD500"),
    ("DEAL_STAGE", "LOSE", "Deal lost", 70, "F", "#FF5752"),
    ("DEAL_STAGE", "APOLOGY", "Analyze failure", 80, "F", "#FF5752"),
    ("CONTACT_TYPE", "CLIENT", "Clients", 10, None, None),
    ("CONTACT_TYPE", "SUPPLIER", "Suppliers", 20, None, None),
    ("CONTACT_TYPE", "PARTNER", "Partners", 30, None, None),
    ("CONTACT_TYPE", "OTHER", "Other", 40, None, None),
    ("COMPANY_TYPE", "CUSTOMER", "Client", 10, None, None),
    ("COMPANY_TYPE", "SUPPLIER", "Supplier", 20, None, None),
    ("COMPANY_TYPE", "COMPETITOR", "Competitor", 30, None, None),
    ("COMPANY_TYPE", "PARTNER", "Partner", 40, None, None),
    ("COMPANY_TYPE", "OTHER", "Other", 50, None, None),
    ("DEAL_TYPE", "SALE", "Sales", 10, None, None),
    ("DEAL_TYPE", "COMPLEX", "Integrated sale", 20, None, None),
    ("DEAL_TYPE", "GOODS", "Merchandise sale", 30, None, None),
    ("DEAL_TYPE", "SERVICES", "Service sale", 40, None, None),
    ("DEAL_TYPE", "SERVICE", "After-sales service", 50, None, None),
]


def upgrade() -> None:
    op.create_table(
        "crm_activities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_type_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("provider_type_id", sa.String(length=100), nullable=True),
        sa.Column("provider_group_id", sa.String(length=100), nullable=True),
        sa.Column("associated_entity_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("completed", sa.String(length=1), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("notify_type", sa.Integer(), nullable=False),
        sa.Column("notify_value", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_type", sa.Integer(), nullable=False),
        sa.Column("direction", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("provider_params", sa.JSON(), nullable=True),
        sa.Column("provider_data", sa.Text(), nullable=True),
        sa.Column("originator_id", sa.String(length=255), nullable=True),
        sa.Column("origin_id", sa.String(length=255), nullable=True),
        sa.Column("result_mark", sa.Integer(), nullable=False),
        sa.Column("result_value", sa.String(length=255), nullable=True),
        sa.Column("result_sum", sa.String(length=50), nullable=True),
        sa.Column("result_currency_id", sa.String(length=3), nullable=True),
        sa.Column("result_status", sa.Integer(), nullable=False),
        sa.Column("result_stream", sa.Integer(), nullable=False),
        sa.Column("result_source_id", sa.String(length=50), nullable=True),
        sa.Column("autocomplete_rule", sa.Integer(), nullable=False),
        sa.Column("storage_type_id", sa.Integer(), nullable=True),
        sa.Column("storage_element_ids", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_activities")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_activities_origin_id"), ["origin_id"], unique=False
        )
        batch_op.create_index(
            "ix_crm_activities_owner", ["owner_type_id", "owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_activities_responsible_id"), ["responsible_id"], unique=False
        )

    op.create_table(
        "crm_companies",
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("company_type", sa.String(length=50), nullable=True),
        sa.Column("industry", sa.String(length=50), nullable=True),
        sa.Column("employees", sa.String(length=50), nullable=True),
        sa.Column("currency_id", sa.String(length=3), nullable=True),
        sa.Column("revenue", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("is_my_company", sa.String(length=1), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("modify_by_id", sa.Integer(), nullable=True),
        sa.Column("date_create", sa.DateTime(), nullable=False),
        sa.Column("date_modify", sa.DateTime(), nullable=False),
        sa.Column("opened", sa.String(length=1), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=50), nullable=True),
        sa.Column("source_description", sa.Text(), nullable=True),
        sa.Column("originator_id", sa.String(length=255), nullable=True),
        sa.Column("origin_id", sa.String(length=255), nullable=True),
        sa.Column("origin_version", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_companies")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_companies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_companies_assigned_by_id"), ["assigned_by_id"], unique=False
        )

    op.create_table(
        "crm_contacts",
        sa.Column("type_id", sa.String(length=50), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("export", sa.String(length=1), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("modify_by_id", sa.Integer(), nullable=True),
        sa.Column("date_create", sa.DateTime(), nullable=False),
        sa.Column("date_modify", sa.DateTime(), nullable=False),
        sa.Column("opened", sa.String(length=1), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=50), nullable=True),
        sa.Column("source_description", sa.Text(), nullable=True),
        sa.Column("originator_id", sa.String(length=255), nullable=True),
        sa.Column("origin_id", sa.String(length=255), nullable=True),
        sa.Column("origin_version", sa.String(length=255), nullable=True),
        sa.Column("honorific", sa.String(length=50), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("second_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("post", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_contacts")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_contacts_assigned_by_id"), ["assigned_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_contacts_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "crm_deals",
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("type_id", sa.String(length=50), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.String(length=50), nullable=True),
        sa.Column("stage_semantic_id", sa.String(length=1), nullable=True),
        sa.Column("closed", sa.String(length=1), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("opportunity", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency_id", sa.String(length=3), nullable=True),
        sa.Column("begindate", sa.DateTime(), nullable=True),
        sa.Column("closedate", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("modify_by_id", sa.Integer(), nullable=True),
        sa.Column("date_create", sa.DateTime(), nullable=False),
        sa.Column("date_modify", sa.DateTime(), nullable=False),
        sa.Column("opened", sa.String(length=1), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=50), nullable=True),
        sa.Column("source_description", sa.Text(), nullable=True),
        sa.Column("originator_id", sa.String(length=255), nullable=True),
        sa.Column("origin_id", sa.String(length=255), nullable=True),
        sa.Column("origin_version", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_deals")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_deals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_deals_assigned_by_id"), ["assigned_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_deals_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_deals_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "crm_leads",
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("status_id", sa.String(length=50), nullable=True),
        sa.Column("status_description", sa.Text(), nullable=True),
        sa.Column("status_semantic_id", sa.String(length=1), nullable=True),
        sa.Column("company_title", sa.String(length=255), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("opportunity", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency_id", sa.String(length=3), nullable=True),
        sa.Column("is_return_customer", sa.String(length=1), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("modify_by_id", sa.Integer(), nullable=True),
        sa.Column("date_create", sa.DateTime(), nullable=False),
        sa.Column("date_modify", sa.DateTime(), nullable=False),
        sa.Column("opened", sa.String(length=1), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=50), nullable=True),
        sa.Column("source_description", sa.Text(), nullable=True),
        sa.Column("originator_id", sa.String(length=255), nullable=True),
        sa.Column("origin_id", sa.String(length=255), nullable=True),
        sa.Column("origin_version", sa.String(length=255), nullable=True),
        sa.Column("honorific", sa.String(length=50), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("second_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("post", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_leads")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_leads_assigned_by_id"), ["assigned_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_leads_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_leads_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "crm_multifields",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.String(length=10), nullable=False),
        sa.Column("value_type", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("normalized", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_multifields")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_multifields", schema=None) as batch_op:
        batch_op.create_index("ix_crm_multifields_lookup", ["type_id", "normalized"], unique=False)
        batch_op.create_index(
            "ix_crm_multifields_owner", ["entity_type", "entity_id"], unique=False
        )

    op.create_table(
        "crm_statuses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(length=50), nullable=False),
        sa.Column("status_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=1), nullable=False),
        sa.Column("semantics", sa.String(length=1), nullable=True),
        sa.Column("color", sa.String(length=10), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_statuses")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_statuses", schema=None) as batch_op:
        batch_op.create_index("ix_crm_statuses_entity", ["entity_id", "status_id"], unique=True)

    op.create_table(
        "crm_activity_bindings",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("owner_type_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["crm_activities.id"],
            name=op.f("fk_crm_activity_bindings_activity_id_crm_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "activity_id", "owner_type_id", "owner_id", name=op.f("pk_crm_activity_bindings")
        ),
    )
    with op.batch_alter_table("crm_activity_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_activity_bindings_owner", ["owner_type_id", "owner_id"], unique=False
        )

    op.create_table(
        "crm_activity_communications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("entity_type_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["crm_activities.id"],
            name=op.f("fk_crm_activity_communications_activity_id_crm_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_activity_communications")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crm_activity_communications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_activity_communications_activity_id"), ["activity_id"], unique=False
        )
    statuses = sa.table(
        "crm_statuses",
        sa.column("entity_id", sa.String),
        sa.column("status_id", sa.String),
        sa.column("name", sa.String),
        sa.column("sort", sa.Integer),
        sa.column("system", sa.String),
        sa.column("semantics", sa.String),
        sa.column("color", sa.String),
    )
    op.bulk_insert(
        statuses,
        [
            {
                "entity_id": e,
                "status_id": s,
                "name": n,
                "sort": sort,
                "system": "Y",
                "semantics": sem,
                "color": color,
            }
            for e, s, n, sort, sem, color in DEFAULT_STATUSES
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("crm_activity_communications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_activity_communications_activity_id"))

    op.drop_table("crm_activity_communications")
    with op.batch_alter_table("crm_activity_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_activity_bindings_owner")

    op.drop_table("crm_activity_bindings")
    with op.batch_alter_table("crm_statuses", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_statuses_entity")

    op.drop_table("crm_statuses")
    with op.batch_alter_table("crm_multifields", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_multifields_owner")
        batch_op.drop_index("ix_crm_multifields_lookup")

    op.drop_table("crm_multifields")
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_leads_contact_id"))
        batch_op.drop_index(batch_op.f("ix_crm_leads_company_id"))
        batch_op.drop_index(batch_op.f("ix_crm_leads_assigned_by_id"))

    op.drop_table("crm_leads")
    with op.batch_alter_table("crm_deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_deals_contact_id"))
        batch_op.drop_index(batch_op.f("ix_crm_deals_company_id"))
        batch_op.drop_index(batch_op.f("ix_crm_deals_assigned_by_id"))

    op.drop_table("crm_deals")
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_contacts_company_id"))
        batch_op.drop_index(batch_op.f("ix_crm_contacts_assigned_by_id"))

    op.drop_table("crm_contacts")
    with op.batch_alter_table("crm_companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_companies_assigned_by_id"))

    op.drop_table("crm_companies")
    with op.batch_alter_table("crm_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_activities_responsible_id"))
        batch_op.drop_index("ix_crm_activities_owner")
        batch_op.drop_index(batch_op.f("ix_crm_activities_origin_id"))

    op.drop_table("crm_activities")
