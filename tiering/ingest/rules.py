"""Row validation of shape and types, vectorised with pyarrow compute.

Ingestion checks only what makes a row unusable: a key column missing, the column naming the
record it belongs to missing (a receipt's customer, an event's credit profile), a numeric field
that is not a number (thousands separators allowed), a date field in none of the contract's
formats or naming no day of the calendar (2025/02/30). Coded fields and valid-typed impossible
values (future dates, negative balances) are
left to staging, which flags them. Whatever staging's parsers read (macros/cleaning/numbers.sql, dates.sql) must
pass here too: values failing the plain pattern are checked again after NFKC folding (full-width
digits and separators) with a currency sign, a unit word or accounting brackets allowed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiering.contract import Entity

NUMERIC: dict[tuple[str, str], tuple[str, ...]] = {
    ("finance", "receipts"): ("amount",),
    ("finance", "statements"): (
        "revenue", "net_profit", "total_assets", "total_liabilities",
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

# A year as finance systems label it: 2025, 2025年, 2025年度, FY2025 (staging's parse_year).
YEARS: dict[tuple[str, str], tuple[str, ...]] = {("finance", "statements"): ("fiscal_year",)}
YEAR_PATTERN = r"^\s*(?:[Ff][Yy]\s*)?\d{4}(?:\.0+)?\s*(?:年度|年)?\s*$"

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
# (2024-03-05 09:30:00, 2024-03-05T09:30:00+08:00); 20240305; or an Excel serial day number
# such as 45356.
DATE_PATTERN = (
    rf"^\s*(?:\d{{4}}(?:-{_MONTH}-{_DAY}|/{_MONTH}/{_DAY}|\.{_MONTH}\.{_DAY}|年{_MONTH}月{_DAY}日)"
    r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
    r"|\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"|\d{5}(?:\.\d+)?)\s*$"
)
# After NFKC folding: the same number with an optional currency sign or word before and unit word
# after, its sign before or after the currency, the minus sign U+2212 for a hyphen, an accounting
# negative in brackets or a trailing minus (SAP-style ERP exports): ¥1,234.50 / -¥1,234.50 /
# RMB 1,234.50 / 12.5万元 / (1,234.00) / (¥1,234.00) / 1,234.00-.
_PLAIN_NUMBER = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
_CURRENCY = r"(?:(?:[Rr][Mm][Bb]|[Cc][Nn][Yy]|人民币)\s*)?¥?\s*"
_UNIT = r"\s*(?:万元|亿元|元|万|亿)?\s*"
LENIENT_NUMBER_PATTERN = (
    rf"^\s*(?:(?:[+\-−]\s*{_CURRENCY}|{_CURRENCY}[+\-−]?\s*)"
    rf"{_PLAIN_NUMBER}(?:[eE][+-]?\d+)?{_UNIT}"
    rf"|{_CURRENCY}\(\s*{_CURRENCY}{_PLAIN_NUMBER}\s*\){_UNIT}"
    rf"|{_CURRENCY}{_PLAIN_NUMBER}{_UNIT}-\s*)$"
)


# A dash alone: how a spreadsheet's accounting format shows an empty cell (` - `, `－`, `—`).
DASH_PATTERN = r"^\s*[-−–—－‐‑]+\s*$"


def _fails(values: pa.ChunkedArray, pattern: str, lenient: str) -> pa.ChunkedArray:
    """True where a non-blank value matches neither `pattern` nor, once NFKC-folded, `lenient`
    (folding only the few values the plain pattern rejects). A blank value (`""` or spaces: how
    JSON writers and padded CSV exports often say "none") is no value, as an empty CSV field is:
    staging reads it as NULL. So is a dash alone (DASH_PATTERN): before 2026-12-07 one `-` in a
    statement's interest expense quarantined the whole statement."""
    bad = pc.fill_null(pc.invert(pc.match_substring_regex(values, pattern)), False)
    blank = pc.fill_null(pc.or_(pc.equal(pc.utf8_trim_whitespace(values), ""),
                                pc.match_substring_regex(values, DASH_PATTERN)), False)
    bad = pc.and_(bad, pc.invert(blank))
    if not pc.any(bad).as_py():
        return bad
    index = pc.indices_nonzero(bad)
    folded = pc.utf8_normalize(pc.take(values, index), "NFKC")
    still = pc.invert(pc.match_substring_regex(folded, lenient)).to_numpy(zero_copy_only=False)
    mask = np.zeros(len(values), dtype=bool)
    mask[index.to_numpy()[still]] = True
    return pa.chunked_array([mask])


_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
# The date pattern lets only days 1-31 and months 1-12 through, so only a day 29-31 can name no
# day of the calendar: those few values are looked at, not every date (1 µs a value otherwise).
_LATE_DAY = r"^\s*(?:\d{4}[-/.年]\d{1,2}[-/.月](?:29|30|31)(?:\D|$)|\d{6}(?:29|30|31)\s*$)"
_YMD_PATTERNS = (r"^\s*(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})",
                 r"^\s*(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})\s*$")


def _impossible_dates(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """True where a value has a date's form but names no day of the calendar (2025/02/30,
    2023-02-29, 20250431): staging's parse_date would read it as no date at all, and the row
    would lose its date without a trace."""
    mask = np.zeros(len(values), dtype=bool)
    late = pc.fill_null(pc.match_substring_regex(values, _LATE_DAY), False)
    if not pc.any(late).as_py():
        return pa.chunked_array([mask])
    candidates = np.flatnonzero(late.to_numpy(zero_copy_only=False))
    late_values = pc.take(values, pa.array(candidates))
    for pattern in _YMD_PATTERNS:
        parts = pc.extract_regex(late_values, pattern)
        found = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
        if not found.any():
            continue
        index = np.flatnonzero(found)
        taken = pc.take(parts, pa.array(index))
        year, month, day = (pc.cast(pc.struct_field(taken, [i]), pa.int64()).to_numpy()
                            for i in range(3))
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] - ((month == 2) & ~leap)
        mask[candidates[index[(month < 1) | (month > 12) | (day < 1) | (day > days)]]] = True
    return pa.chunked_array([mask])


def number_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The number in each text (float64), NULL where there is none: the values ingestion lets
    through as numbers, read the way staging's `parse_number` reads them (unit words ignored).
    Registered in the quality gates' DuckDB as `parse_number(varchar)` (tiering/quality.py)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = pc.replace_substring(
        pc.utf8_normalize(pc.cast(values, pa.string()), "NFKC"), "−", "-")
    valid = pc.fill_null(pc.match_substring_regex(text, LENIENT_NUMBER_PATTERN), False)
    # (1,234.00) and 1,234.00- are negative; a leading sign stays in the digits
    negative = pc.fill_null(pc.or_(pc.match_substring(text, "("),
                                   pc.match_substring_regex(text, r"-\s*$")), False)
    digits = pc.replace_substring_regex(
        text, r"[\s,¥()]|万元|亿元|元|万|亿|[Rr][Mm][Bb]|[Cc][Nn][Yy]|人民币|-\s*$", "")
    # only what float parsing reads (a pattern bug must give NULL, never stop the gate)
    valid = pc.and_(valid, pc.fill_null(pc.match_substring_regex(
        digits, r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"), False))
    number = pc.cast(pc.if_else(valid, digits, pa.scalar(None, pa.string())), pa.float64())
    return pc.if_else(negative, pc.negate(number), number)


def invalid_rows(table: pa.Table, entity: Entity) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Indices of rows failing a check and, for each, (index, reason). The reason names the field
    and the offending value; the caller adds file and row number. One reason per row: the first
    failed check, in this order: key, number, year, date, reference."""
    key = (entity.department, entity.name)
    checks: list[tuple[str, pa.ChunkedArray, str]] = []

    def blank_checks(kind: str, columns: tuple[str, ...]) -> None:
        for column in columns:
            if column in table.column_names:
                values = table.column(column)
                blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
                checks.append((column, blank, kind))

    blank_checks("key", entity.key)
    for kind, columns, pattern, lenient in (
            ("number", NUMERIC.get(key, ()), NUMBER_PATTERN, LENIENT_NUMBER_PATTERN),
            ("year", YEARS.get(key, ()), YEAR_PATTERN, YEAR_PATTERN),
            ("date", DATES.get(key, ()), DATE_PATTERN, DATE_PATTERN)):
        for column in columns:
            if column in table.column_names:
                bad = _fails(table.column(column), pattern, lenient)
                if kind == "date":
                    bad = pc.or_(bad, _impossible_dates(table.column(column)))
                checks.append((column, bad, kind))
    blank_checks("reference", entity.references)  # last: a broken value names itself first
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
            elif kind == "reference":
                reasons.append((row, f"field {column} is missing: the row belongs to no record"))
            else:
                reasons.append((row, f"field {column} is not a valid {kind}: {value!r}"))
    reasons.sort()
    return indices, reasons
