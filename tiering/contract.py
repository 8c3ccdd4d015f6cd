"""The raw extract contract (../shared/contracts/raw_extracts.md v1) as data.

One place that names every department's entities, their files, formats, columns, keys and kinds.
The simulator writes to it, ingestion checks deliveries against it, and the dbt sources mirror it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["snapshot", "incremental"]
Format = Literal["csv", "jsonl", "parquet"]


@dataclass(frozen=True)
class Entity:
    department: str
    name: str  # entity name, also the file stem: clients -> clients.csv
    fmt: Format
    encoding: str  # csv: utf-8, gbk or utf-8-sig (BOM); jsonl: utf-8; parquet: n/a
    kind: Kind
    columns: tuple[str, ...]
    key: tuple[str, ...]
    required: tuple[str, ...]  # columns that must be present in the file header
    # identity-bearing: the record id the truth file and client_source_xref use
    record_id: tuple[str, ...] | None = None
    # the columns naming the record a row belongs to in another entity (a receipt's customer,
    # an event's credit profile): a row without one cannot be attributed, so it is quarantined
    # like a row without its key
    references: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.{self.fmt}"


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "crm", "clients", "csv", "utf-8", "snapshot",
        ("crm_id", "client_name", "uscc", "contact_name", "contact_phone", "email", "province",
         "city", "industry", "client_type", "account_manager", "association_member", "listed",
         "created_at", "updated_at"),
        key=("crm_id",),
        required=("crm_id", "client_name"),
        record_id=("crm_id",),
    ),
    Entity(
        "finance", "customers", "csv", "gbk", "snapshot",
        ("customer_code", "customer_name", "tax_id"),
        key=("customer_code",),
        required=("customer_code", "customer_name"),
        record_id=("customer_code",),
    ),
    Entity(
        "finance", "receipts", "csv", "gbk", "incremental",
        ("voucher_no", "customer_code", "receipt_date", "amount", "unit", "fee_type",
         "project_code"),
        key=("voucher_no",),
        required=("voucher_no", "customer_code", "receipt_date", "amount", "unit"),
        references=("customer_code",),
    ),
    Entity(
        "finance", "statements", "csv", "gbk", "snapshot",
        ("customer_code", "fiscal_year", "revenue", "net_profit", "total_assets",
         "total_liabilities", "current_assets", "current_liabilities", "operating_cash_flow",
         "interest_expense", "audited"),
        key=("customer_code", "fiscal_year"),
        required=("customer_code", "fiscal_year"),
    ),
    Entity(
        "risk", "credit_profiles", "jsonl", "utf-8", "snapshot",
        ("risk_client_no", "uscc", "client_name", "internal_rating", "rating_date",
         "credit_limit", "outstanding_balance", "collateral_value", "max_overdue_days",
         "guarantee_type", "on_watchlist"),
        key=("risk_client_no",),
        required=("risk_client_no", "client_name"),
        record_id=("risk_client_no",),
    ),
    Entity(
        "risk", "risk_events", "jsonl", "utf-8", "incremental",
        ("event_id", "risk_client_no", "event_date", "event_type", "amount", "severity", "note"),
        key=("event_id",),
        required=("event_id", "risk_client_no", "event_date", "event_type"),
        references=("risk_client_no",),
    ),
    Entity(
        "projects", "projects", "csv", "utf-8-sig", "snapshot",
        ("project_code", "project_name", "project_type", "province", "city", "total_investment",
         "financing_need", "risk_level", "status", "start_date", "planned_end_date"),
        key=("project_code",),
        required=("project_code", "project_type", "status"),
    ),
    Entity(
        "projects", "participations", "csv", "utf-8-sig", "snapshot",
        ("project_code", "partner_name", "role", "committed_amount", "contributed_amount",
         "performance_rating", "delivered_on_time"),
        key=("project_code", "partner_name", "role"),
        required=("project_code", "partner_name", "role"),
        record_id=("project_code", "partner_name", "role"),
    ),
    Entity(
        "service", "tickets", "jsonl", "utf-8", "incremental",
        ("ticket_id", "opened_at", "closed_at", "caller_phone", "caller_name",
         "company_mentioned", "channel", "category", "satisfaction"),
        key=("ticket_id",),
        required=("ticket_id", "opened_at", "caller_phone"),
        record_id=("ticket_id",),
    ),
    Entity(
        "external", "registry", "parquet", "n/a", "snapshot",
        ("uscc", "registered_name", "former_names", "legal_representative",
         "registered_capital", "established_date", "registration_status", "industry_code",
         "province", "city", "listed_board", "association_memberships",
         "litigation_count_12m", "penalty_count_12m", "bureau_score"),
        key=("uscc",),
        required=("uscc", "registered_name"),
        record_id=("uscc",),
    ),
)

DEPARTMENTS: tuple[str, ...] = ("crm", "finance", "risk", "projects", "service", "external")

# Columns the contract delivers as lists of strings (Parquet lists; the raw layer keeps them as
# JSON arrays). A delivery that writes one as text ("旧名甲;旧名乙") is read into the same form.
LIST_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("external", "registry"): ("former_names", "association_memberships"),
}

LINEAGE_COLUMNS: tuple[str, ...] = (
    "_department", "_entity", "_extract_date", "_source_file", "_row_number", "_loaded_at",
)

RECORD_ID_SEPARATOR = "|"


def entities_of(department: str) -> tuple[Entity, ...]:
    return tuple(e for e in ENTITIES if e.department == department)


def entity(department: str, name: str) -> Entity:
    for e in ENTITIES:
        if e.department == department and e.name == name:
            return e
    raise KeyError(f"no entity {department}/{name} in the contract")
