"""Checks of an ingested and built variant landing zone against its truth
(tiering/testing/variants.py): used by tests/test_variants.py and benchmarks/bench_variants.py.

All set-based in DuckDB over the raw layer, the quarantine, the build database and the truth.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

# staging model -> {delivered field: staging column}; the truth says what each value must become
PARSED: dict[str, dict[str, str]] = {
    "stg_crm__clients": {"contact_phone": "contact_phone", "created_at": "created_at",
                         "updated_at": "updated_at", "association_member": "is_association_member",
                         "listed": "is_listed"},
    "stg_finance__receipts": {"receipt_date": "receipt_date", "amount": "receipt_amount"},
    "stg_finance__statements": {
        "fiscal_year": "fiscal_year", "audited": "is_audited",
        **{c: f"{c}_amount" for c in ("revenue", "net_profit", "total_assets",
                                      "total_liabilities", "current_assets",
                                      "current_liabilities", "operating_cash_flow",
                                      "interest_expense")}},
    "stg_risk__credit_profiles": {
        "rating_date": "rating_date", "credit_limit": "credit_limit_amount",
        "outstanding_balance": "outstanding_balance_amount",
        "collateral_value": "collateral_value_amount", "max_overdue_days": "max_overdue_days",
        "on_watchlist": "is_on_watchlist"},
    "stg_risk__risk_events": {"event_date": "event_date", "amount": "event_amount",
                              "severity": "severity"},
    "stg_projects__projects": {"total_investment": "total_investment_amount",
                               "financing_need": "financing_need_amount",
                               "start_date": "start_date", "planned_end_date": "planned_end_date"},
    "stg_projects__participations": {"committed_amount": "committed_amount",
                                     "contributed_amount": "contributed_amount",
                                     "delivered_on_time": "is_delivered_on_time"},
    "stg_service__tickets": {"caller_phone": "caller_phone", "opened_at": "opened_at",
                             "closed_at": "closed_at", "satisfaction": "satisfaction"},
    "stg_external__registry": {"registered_capital": "registered_capital_amount",
                               "established_date": "established_date",
                               "litigation_count_12m": "litigation_count_12m",
                               "penalty_count_12m": "penalty_count_12m",
                               "bureau_score": "bureau_score"},
}
AS_TEXT = {  # a staging value as the truth writes it
    "phone": "{c}", "date": "strftime({c}, '%Y-%m-%d')",
    "timestamp": "strftime({c}, '%Y-%m-%d %H:%M:%S')",
    "amount": "cast(cast({c} as decimal(20, 2)) as varchar)", "integer": "cast({c} as varchar)",
    "boolean": "cast({c} as varchar)",
}
SNAPSHOT_MODELS = ("stg_crm__clients", "stg_finance__customers", "stg_finance__statements",
                   "stg_risk__credit_profiles", "stg_projects__projects",
                   "stg_projects__participations", "stg_external__registry")


def connect(home: Path) -> duckdb.DuckDBPyConnection:
    """Views over the truth, the quarantine and the ingestion log; the build database as `wh`."""
    con = duckdb.connect()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as wh (read_only)")
    for name in ("expected_values", "expected_quarantine", "source_records"):
        con.execute(f"create view {name} as select * from '{home / 'truth' / name}.parquet'")
    con.execute(f"create view quarantine as select * from read_parquet("
                f"'{home / 'raw' / '_quarantine'}/*/*/*.parquet')")
    con.execute(f"create view log as select * from '{home / 'raw' / '_ingestion_log.parquet'}'")
    return con


def loaded(as_of: date, column: str = "source_file") -> str:
    """SQL condition: `column` (a landing-relative file) is of a delivery loaded by `as_of`."""
    return (f"split_part({column}, '/', 1) || '/' || split_part({column}, '/', 2) in "
            f"(select department || '/' || cast(extract_date as varchar) from log "
            f"where status = 'loaded' and extract_date <= '{as_of}')")


def row_balance(home: Path, deliveries: list[dict]) -> list[tuple[str, int, int, int]]:
    """(file, manifest rows, loaded, quarantined) for every file of every loaded delivery."""
    with duckdb.connect() as con:
        raw = dict(con.execute(
            f"select _source_file, count(*) from read_parquet('{home / 'raw'}/*/*/*.parquet', "
            f"union_by_name = true) where _source_file is not null group by 1").fetchall())
        bad = dict(con.execute(
            f"select _source_file, count(*) from read_parquet("
            f"'{home / 'raw' / '_quarantine'}/*/*/*.parquet') group by 1").fetchall())
    out = []
    for delivery in deliveries:
        if delivery["status"] != "loaded":
            continue
        folder = home / "landing" / delivery["department"] / delivery["extract_date"]
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        for name, spec in manifest["files"].items():
            source = f"{delivery['department']}/{delivery['extract_date']}/{name}"
            out.append((source, spec["rows"], raw.get(source, 0), bad.get(source, 0)))
    return out


def quarantine_diff(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[list, list]:
    """(rows quarantined that were not broken on purpose, rows broken on purpose of a loaded
    delivery that are not quarantined with a reason naming file, row and the expected fault)."""
    unexpected = con.execute("""
        select q._source_file, q._row_number, q.reason, left(q.raw_text, 120)
        from quarantine q anti join expected_quarantine e
            on e.source_file = q._source_file and e.row_number = q._row_number
        order by 1, 2""").fetchall()
    missed = con.execute(f"""
        select e.*, q.reason from expected_quarantine e
        left join quarantine q
            on e.source_file = q._source_file and e.row_number = q._row_number
        where {loaded(as_of, 'e.source_file')}
          and (q.reason is null
               or not starts_with(q.reason, e.source_file || ' row '
                                  || cast(e.row_number as varchar) || ': ')
               or not contains(q.reason, e.reason))
        order by 1, 2""").fetchall()
    return unexpected, missed


def parse_staged_values(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `parsed`: every delivered value the truth describes that reached staging,
    with `got` (staging's value as text) beside `expected`."""
    kinds = dict(con.execute(
        "select split_part(source_file, '/', 1) || '.' || field, any_value(kind) "
        "from expected_values group by 1").fetchall())
    parts = []
    for model, fields in PARSED.items():
        department = model.split("__")[0][len("stg_"):]
        for field, column in fields.items():
            text = AS_TEXT[kinds[f"{department}.{field}"]].format(c=f"s.{column}")
            parts.append(
                f"select '{model}' as model, e.*, {text} as got "
                f"from wh.staging.{model} s join expected_values e "
                f"on e.source_file = s.source_file and e.row_number = s.source_row_number "
                f"and e.field = '{field}'")
    con.execute("create or replace temp table parsed as " + " union all ".join(parts))


def parse_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> dict:
    """Delivered values, NULLs and wrong values per kind; examples; values of snapshot entities
    that never reached staging (incremental entities keep only a key's latest version)."""
    parse_staged_values(con)
    by_kind = {kind: {"values": n, "null": nulls, "wrong": wrong, "flavours": flavours}
               for kind, n, nulls, wrong, flavours in con.execute("""
        select kind, count(*), count(*) filter (where got is null),
               count(*) filter (where got <> expected), count(distinct flavour)
        from parsed group by 1 order by 1""").fetchall()}
    total = sum(k["values"] for k in by_kind.values())
    nulls = sum(k["null"] for k in by_kind.values())
    wrong = sum(k["wrong"] for k in by_kind.values())
    snapshot_files = ", ".join(f"'{m[4:].replace('__', '/')}'" for m in SNAPSHOT_MODELS)
    return {
        "values": total, "null": nulls, "wrong": wrong,
        "null_rate": nulls / total if total else 0.0,
        "flavours": con.execute("select count(distinct flavour) from parsed").fetchone()[0],
        "by_kind": by_kind,
        "examples": con.execute("""
            select flavour, field, expected, got, source_file, row_number from parsed
            where got is distinct from expected order by flavour limit 15""").fetchall(),
        "snapshot_values_missing": con.execute(f"""
            select e.source_file, e.row_number, e.field from expected_values e
            anti join parsed p using (source_file, row_number, field)
            where {loaded(as_of, 'e.source_file')}
              and split_part(e.source_file, '/', 1) || '/'
                  || lower(split_part(split_part(e.source_file, '/', 3), '.', 1))
                  in ({snapshot_files})
            limit 10""").fetchall(),
    }


def identity_coverage(con: duckdb.DuckDBPyConnection) -> dict:
    """xref grain and truth coverage: every identity record has exactly one client."""
    rows, keys, clients = con.execute("""
        select count(*), count(distinct (department, entity, record_id)), count(client_key)
        from wh.marts.client_source_xref""").fetchone()
    missing = con.execute("""
        select department, entity, record_id from source_records
        anti join wh.marts.client_source_xref using (department, entity, record_id)
        order by 1, 2, 3""").fetchall()
    truth = con.execute("select count(*) from source_records").fetchone()[0]
    return {"xref_rows": rows, "xref_keys": keys, "with_client": clients, "truth": truth,
            "missing": missing}
