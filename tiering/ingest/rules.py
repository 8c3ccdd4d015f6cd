"""Row validation of shape and types, vectorised with pyarrow compute.

Ingestion checks only what makes a row unusable: a key column missing, a numeric field that is not
a number (thousands separators allowed), a date field in none of the contract's formats. Coded
fields and valid-typed impossible values (future dates, negative balances) are left to staging,
which flags them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiering.contract import Entity

NUMERIC: dict[tuple[str, str], tuple[str, ...]] = {
    ("finance", "receipts"): ("amount",),
    ("finance", "statements"): (
        "fiscal_year", "revenue", "net_profit", "total_assets", "total_liabilities",
        "current_assets", "current_liabilities", "operating_cash_flow", "interest_expense"),
    ("risk", "credit_profiles"): (
        "credit_limit", "outstanding_balance", "collateral_value", "max_overdue_days"),
    ("risk", "risk_events"): ("amount", "severity"),
    ("projects", "projects"): ("total_investment", "financing_need"),
    ("projects", "participations"): ("committed_amount", "contributed_amount"),
    ("service", "tickets"): ("satisfaction",),
    ("external", "registry"): (
        "registered_capital", "litigation_count_12m", "penalty_count_12m", "bureau_score"),
}

DATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("crm", "clients"): ("created_at", "updated_at"),
    ("finance", "receipts"): ("receipt_date",),
    ("risk", "credit_profiles"): ("rating_date",),
    ("risk", "risk_events"): ("event_date",),
    ("projects", "projects"): ("start_date", "planned_end_date"),
    ("service", "tickets"): ("opened_at", "closed_at"),
    ("external", "registry"): ("established_date",),
}

# 1234 / -1,234,567.89 / .5 / 1e5 (JSON numbers), surrounding spaces tolerated.
NUMBER_PATTERN = r"^\s*[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
# 2024-03-05, 2024/3/5, 2024年3月5日, each optionally with a time and a UTC offset
# (2024-03-05 09:30:00, 2024-03-05T09:30:00+08:00); or an Excel serial day number such as 45356.
DATE_PATTERN = (
    rf"^\s*(?:\d{{4}}(?:-{_MONTH}-{_DAY}|/{_MONTH}/{_DAY}|年{_MONTH}月{_DAY}日)"
    r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{5}(?:\.\d+)?)\s*$"
)


def invalid_rows(table: pa.Table, entity: Entity) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Indices of rows failing a check and, for each, (index, reason). The reason names the field
    and the offending value; the caller adds file and row number. One reason per row: the first
    failed check in column order."""
    key = (entity.department, entity.name)
    checks: list[tuple[str, pa.ChunkedArray, str]] = []
    for column in entity.key:
        if column in table.column_names:
            values = table.column(column)
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
            checks.append((column, blank, "key"))
    for kind, columns, pattern in (("number", NUMERIC.get(key, ()), NUMBER_PATTERN),
                                   ("date", DATES.get(key, ()), DATE_PATTERN)):
        for column in columns:
            if column in table.column_names:
                values = table.column(column)
                bad = pc.fill_null(pc.invert(pc.match_substring_regex(values, pattern)), False)
                checks.append((column, bad, kind))
    if not checks or table.num_rows == 0:
        return np.empty(0, dtype=np.int64), []
    masks = [np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool) for _, mask, _ in checks]
    any_bad = np.logical_or.reduce(masks)
    indices = np.flatnonzero(any_bad)
    if len(indices) == 0:
        return indices, []
    stacked = np.stack([m[indices] for m in masks])  # checks x bad rows
    first = stacked.argmax(axis=0)
    reasons: list[tuple[int, str]] = []
    for check_no in np.unique(first).tolist():
        column, _, kind = checks[check_no]
        rows = indices[first == check_no]
        values = table.column(column).take(pa.array(rows)).to_pylist()
        for row, value in zip(rows.tolist(), values):  # quarantined rows only
            if kind == "key":
                reasons.append((row, f"key field {column} is missing"))
            else:
                reasons.append((row, f"field {column} is not a valid {kind}: {value!r}"))
    reasons.sort()
    return indices, reasons
