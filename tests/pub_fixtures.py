"""Small, self-made warehouses for the quality / publish / report tests.

`build_home(home, as_of)` writes a raw layer (one delivery per contract entity, every column as a
string plus the lineage columns, as docs/architecture.md specifies), an ingestion log and a build
database with the marts and seed the GX suites read, with the documented column names. Nothing here
depends on the other engineers' models: these tests prove that the gates, publish and report work.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tiering.config import Paths
from tiering.contract import ENTITIES

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TIERS = ["S", "A", "B", "C", "D"]


def make_uscc(i: int) -> str:
    """A valid USCC (both check characters right) for company number i."""
    org_body = f"{(i * 7919) % 100_000_000:08d}"
    org_sum = sum(ORG_ALPHABET.index(c) * w for c, w in zip(org_body, ORG_WEIGHTS))
    org_check = "0123456789X0"[(11 - org_sum % 11) % 11]
    body = "91" + "110108" + org_body + org_check
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def _entity_frame(dept: str, name: str, n: int, as_of: date) -> pd.DataFrame:
    i = np.arange(n)
    d = as_of.isoformat()
    cols: dict[str, object]
    if (dept, name) == ("crm", "clients"):
        cols = {"crm_id": [f"CRM{k:06d}" for k in i], "client_name": [f"测试{k}实业有限公司" for k in i],
                "uscc": [make_uscc(k) if k % 3 else None for k in i],
                "contact_name": [f"张{k}" for k in i], "contact_phone": [f"138{k:08d}" for k in i],
                "email": [f"zhang{k}@example.com" for k in i], "province": "北京", "city": "北京市",
                "industry": "制造", "client_type": "民营企业", "account_manager": "李经理",
                "association_member": "是", "listed": "N", "created_at": "2024-01-02 03:04:05",
                "updated_at": "2024-01-02 03:04:05"}
    elif (dept, name) == ("finance", "customers"):
        cols = {"customer_code": [f"F{k:07d}" for k in i], "customer_name": [f"测试{k}实业有限公司" for k in i],
                "tax_id": [make_uscc(k) for k in i]}
    elif (dept, name) == ("finance", "receipts"):
        cols = {"voucher_no": [f"V{k:08d}" for k in i], "customer_code": [f"F{k:07d}" for k in i],
                "receipt_date": as_of.strftime("%Y/%m/%d"), "amount": "1,234.50", "unit": "元",
                "fee_type": "利息收入", "project_code": None}
    elif (dept, name) == ("finance", "statements"):
        cols = {"customer_code": [f"F{k:07d}" for k in i], "fiscal_year": "2025", "revenue": "100",
                "net_profit": "10", "total_assets": "1000", "total_liabilities": "500",
                "current_assets": "300", "current_liabilities": "200", "operating_cash_flow": "20",
                "interest_expense": "5", "audited": "是"}
    elif (dept, name) == ("risk", "credit_profiles"):
        cols = {"risk_client_no": [f"R{k}" for k in i], "uscc": [make_uscc(k) for k in i],
                "client_name": [f"测试{k}实业有限公司" for k in i], "internal_rating": "BBB",
                "rating_date": d, "credit_limit": "1000000", "outstanding_balance": "10",
                "collateral_value": "5", "max_overdue_days": "0", "guarantee_type": "信用",
                "on_watchlist": "false"}
    elif (dept, name) == ("risk", "risk_events"):
        cols = {"event_id": [f"E{k}" for k in i], "risk_client_no": [f"R{k}" for k in i],
                "event_date": d, "event_type": "逾期", "amount": None, "severity": "2", "note": "x"}
    elif (dept, name) == ("projects", "projects"):
        cols = {"project_code": [f"P{k:04d}" for k in i], "project_name": [f"项目{k}" for k in i],
                "project_type": "新能源", "province": "北京", "city": "北京", "total_investment": "3",
                "financing_need": "5000", "risk_level": "中", "status": "在建", "start_date": d,
                "planned_end_date": "2030-01-01"}
    elif (dept, name) == ("projects", "participations"):
        cols = {"project_code": [f"P{k:04d}" for k in i], "partner_name": [f"测试{k}" for k in i],
                "role": "投资方", "committed_amount": "100", "contributed_amount": "50",
                "performance_rating": "优", "delivered_on_time": "是"}
    elif (dept, name) == ("service", "tickets"):
        cols = {"ticket_id": [f"T{k}" for k in i], "opened_at": f"{d}T09:00:00+08:00",
                "closed_at": None, "caller_phone": [f"138{k:08d}" for k in i],
                "caller_name": [f"王{k}" for k in i], "company_mentioned": None, "channel": "电话",
                "category": "咨询", "satisfaction": "5"}
    else:  # external registry
        cols = {"uscc": [make_uscc(k) for k in i], "registered_name": [f"测试{k}实业有限公司" for k in i],
                "former_names": "[]", "legal_representative": [f"赵{k}" for k in i],
                "registered_capital": "1000", "established_date": "2010-05-06",
                "registration_status": "存续", "industry_code": "K7010", "province": "北京",
                "city": "北京", "listed_board": None, "association_memberships": "[]",
                "litigation_count_12m": "0", "penalty_count_12m": "0", "bureau_score": "700"}
    frame = pd.DataFrame({k: (v if isinstance(v, list) else [v] * n) for k, v in cols.items()})
    frame = frame.astype("object").where(frame.notna(), None)
    frame["_department"], frame["_entity"] = dept, name
    frame["_extract_date"] = pd.Timestamp(as_of).date()
    frame["_source_file"] = f"{dept}/{d}/{name}"
    frame["_row_number"] = np.arange(1, n + 1, dtype="int64")
    frame["_loaded_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    return frame


def write_raw(paths: Paths, as_of: date, n: int = 200) -> None:
    con = duckdb.connect()
    log_rows = []
    for e in ENTITIES:
        folder = paths.raw / e.department / e.name
        folder.mkdir(parents=True, exist_ok=True)
        frame = _entity_frame(e.department, e.name, n, as_of)
        frame = frame[[*e.columns, *frame.columns[len(e.columns):]]]
        con.register("frame", frame)
        casts = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in e.columns)
        con.execute(f"copy (select {casts}, _department, _entity, cast(_extract_date as date) "
                    f"as _extract_date, _source_file, _row_number, _loaded_at from frame) "
                    f"to '{folder / (as_of.isoformat() + '.parquet')}' (format parquet)")
        con.unregister("frame")
    for dept in sorted({e.department for e in ENTITIES}):
        log_rows.append({"department": dept, "extract_date": as_of, "status": "loaded",
                         "message": None, "files": 1, "rows_expected": n, "rows_loaded": n,
                         "rows_quarantined": 0, "logged_at": datetime(2026, 1, 1)})
    write_ingestion_log(paths, log_rows)


def write_ingestion_log(paths: Paths, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    con = duckdb.connect()
    con.register("log", frame)
    target = paths.raw / "_ingestion_log.parquet"
    con.execute(f"copy (select department, cast(extract_date as date) as extract_date, status, "
                f"cast(message as varchar) as message, files, rows_expected, rows_loaded, "
                f"rows_quarantined, logged_at from log) to '{target}' (format parquet)")


def write_warehouse(paths: Paths, periods: list[date], n: int = 200, *, seed: int = 1,
                    duplicate_tier_row: bool = False) -> None:
    """marts.dim_clients, client_source_xref, client_tiers (+ current), long_tail_clients and
    seeds.tiering_weight_profiles, with the documented columns."""
    rng = np.random.default_rng(seed)
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.warehouse))
    con.execute("create schema if not exists marts; create schema if not exists seeds")
    keys = [f"C{k:06d}" for k in range(n)]
    dim = pd.DataFrame({
        "client_key": keys, "registered_name": [f"测试{k}实业有限公司" for k in range(n)],
        "uscc": [make_uscc(k) for k in range(n)], "province": "北京", "city": "北京",
        "client_type": "民营企业", "contact_name": [f"张{k}伟" for k in range(n)],
        "contact_phone": [f"138{k:08d}" if k % 4 else f"010-8765{k:04d}" for k in range(n)],
        "contact_email": [f"zhang{k}@example.com" for k in range(n)],
        "account_manager": "李经理", "completeness_score": rng.uniform(0.5, 1.0, n).round(4),
    })
    con.register("dim", dim)
    con.execute("create or replace table marts.dim_clients as select * from dim")
    xref_parts = []
    ids = {("crm", "clients"): [f"CRM{k:06d}" for k in range(n)],
           ("finance", "customers"): [f"F{k:07d}" for k in range(n)],
           ("risk", "credit_profiles"): [f"R{k}" for k in range(n)],
           ("projects", "participations"): [f"P{k:04d}|测试{k}|投资方" for k in range(n)],
           ("service", "tickets"): [f"T{k}" for k in range(n)],
           ("external", "registry"): [make_uscc(k) for k in range(n)]}
    for (dept, ent), rid in ids.items():
        xref_parts.append(pd.DataFrame({"department": dept, "entity": ent, "record_id": rid,
                                        "client_key": keys, "match_rule": "uscc",
                                        "match_score": 1.0}))
    con.register("xref", pd.concat(xref_parts, ignore_index=True))
    con.execute("create or replace table marts.client_source_xref as select * from xref")
    weights = pd.DataFrame({
        "profile_code": ["default", "新能源"], "profile_name": ["通用", "新能源"],
        "value_weight": [0.25, 0.15], "credit_weight": [0.25, 0.20],
        "risk_tolerance_weight": [0.10, 0.15], "influence_weight": [0.15, 0.10],
        "potential_weight": [0.15, 0.30], "loyalty_weight": [0.10, 0.10]})
    con.register("weights", weights)
    con.execute("create or replace table seeds.tiering_weight_profiles as select * from weights")
    frames = []
    dims = ["value", "credit", "risk_tolerance", "influence", "potential", "loyalty"]
    for period in periods:
        for profile in ["default", "新能源"]:
            composite = rng.uniform(20, 95, n).round(2)
            tier = np.select([composite >= 75, composite >= 62, composite >= 50, composite >= 38],
                             ["S", "A", "B", "C"], "D")
            f = pd.DataFrame({"client_key": keys, "period_date": period, "profile_code": profile,
                              "tier_code": tier, "composite_score": composite,
                              "pd_12m": rng.uniform(0.001, 0.2, n).round(4)})
            for d in dims:
                f[f"{d}_score"] = rng.uniform(0, 100, n).round(2)
            frames.append(f)
    tiers = pd.concat(frames, ignore_index=True)
    if duplicate_tier_row:
        tiers = pd.concat([tiers, tiers.iloc[[0]]], ignore_index=True)
    con.register("tiers", tiers)
    con.execute("create or replace table marts.client_tiers as "
                "select * replace (cast(period_date as date) as period_date) from tiers")
    con.execute("""create or replace table marts.client_tiers_current as
        select t.*, d.registered_name, d.account_manager from marts.client_tiers t
        join marts.dim_clients d using (client_key)
        where profile_code = 'default' and period_date = (select max(period_date) from marts.client_tiers)""")
    con.execute("""create or replace table marts.long_tail_clients as
        with income as (
            select client_key, period_date, tier_code, potential_score,
                   composite_score * composite_score * 1000 as income_12m_amount
            from marts.client_tiers where profile_code = 'default'),
        ranked as (
            select *, row_number() over (partition by period_date order by income_12m_amount desc)
                       as income_rank,
                   income_12m_amount / sum(income_12m_amount) over (partition by period_date)
                       as income_share
            from income)
        select *, sum(income_share) over (partition by period_date order by income_rank)
                   as cumulative_income_share,
               case when sum(income_share) over (partition by period_date order by income_rank)
                         <= 0.8 then 'head' else 'tail' end as pareto_segment,
               potential_score > 90 as is_rising_star
        from ranked""")
    con.close()


def build_home(home: Path, as_of: date, *, periods: list[date] | None = None, n: int = 200,
               **warehouse_kwargs) -> Paths:
    paths = Paths(home=home)
    write_raw(paths, as_of, n)
    write_warehouse(paths, periods or [as_of], n, **warehouse_kwargs)
    return paths


def write_dynamics_marts(paths: Paths, period: date, previous: date, n: int = 200) -> None:
    """marts.tier_migrations, tier_review_queue, tier_performance and tier_performance_by_tier
    with the columns the dynamics marts document (models/marts/dynamics/_dynamics__models.yml):
    a 1-month matrix with an NR column, a queue of two triggers, and two monitoring periods."""
    con = duckdb.connect(str(paths.warehouse))
    rows = []
    for i, src in enumerate(TIERS):
        for j, dst in enumerate([*TIERS, "NR"]):
            count = 30 if i == j else (2 if dst != "NR" else 1)
            rows.append({"profile_code": "default", "horizon_months": 1,
                         "from_period_date": previous, "period_date": period,
                         "from_tier_code": src, "to_tier_code": dst, "client_count": count,
                         "from_tier_client_count": 30 + 2 * (len(TIERS) - 1) + 1})
    con.register("migrations", pd.DataFrame(rows))
    con.execute("""create or replace table marts.tier_migrations as
        select * replace (cast(period_date as date) as period_date,
                          cast(from_period_date as date) as from_period_date)
        from migrations""")
    keys = [f"C{k:06d}" for k in range(n)]
    queue = pd.DataFrame({
        "client_key": keys[:12], "trigger_code": ["periodic"] * 8 + ["default_event"] * 4,
        "registered_name": [f"测试{k}实业有限公司" for k in range(12)], "account_manager": "李经理",
        "tier_code": ["A"] * 6 + ["D"] * 6,
        "trigger_label": ["定期复核"] * 8 + ["违约事件"] * 4, "trigger_detail": "x",
        "priority": [3] * 8 + [1] * 4, "period_date": period,
        "trigger_date": [previous] * 12, "due_date": [previous] * 4 + [period] * 8})
    con.register("queue", queue)
    con.execute("""create or replace table marts.tier_review_queue as
        select * replace (cast(period_date as date) as period_date,
            cast(trigger_date as date) as trigger_date, cast(due_date as date) as due_date)
        from queue""")
    con.register("performance", pd.DataFrame({
        "period_date": [previous, period], "profile_code": "default",
        "psi_composite": [None, 0.04], "default_rate": [0.02, 0.021],
        "is_outcome_window_complete": False}))
    con.execute("""create or replace table marts.tier_performance as
        select * replace (cast(period_date as date) as period_date) from performance""")
    # by tier: `previous` closed (0 %, 1 %, 2 %, 4 %, 10 % from S to D), `period` one month in
    closed = {"S": (50, 0), "A": (100, 1), "B": (200, 4), "C": (200, 8), "D": (100, 10)}
    con.register("by_tier", pd.DataFrame(
        [{"period_date": previous, "profile_code": "default", "tier_code": t,
          "client_count": n, "default_count": d, "outcome_months_observed": 12,
          "is_outcome_window_complete": True} for t, (n, d) in closed.items()]
        + [{"period_date": period, "profile_code": "default", "tier_code": t,
            "client_count": n, "default_count": 0, "outcome_months_observed": 0,
            "is_outcome_window_complete": False} for t, (n, _) in closed.items()]))
    con.execute("""create or replace table marts.tier_performance_by_tier as
        select * replace (cast(period_date as date) as period_date) from by_tier""")
    con.close()


# A BI-like reader, run as its own process: connects read-only to the serving database, reads the
# newest publish_log row and counts every mart, over and over, until the stop file exists (or the
# time limit); prints reads, errors, versions seen and torn reads (counts that do not add up to
# the version's rows_published) as JSON.  Usage: python reader.py SERVING STOP_FILE MAX_SECONDS
READER = textwrap.dedent("""
    import json, os, sys, time, duckdb
    path, stop, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    reads, errors, versions, torn = 0, [], set(), []
    end = time.time() + seconds
    while time.time() < end and not os.path.exists(stop):
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                version, expected = con.execute(
                    "select version, rows_published from publish_log "
                    "order by version desc limit 1").fetchone()
                tables = [t for (t,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'marts'").fetchall()]
                found = sum(con.execute(f'select count(*) from marts."{t}"').fetchone()[0]
                            for t in tables)
            finally:
                con.close()
            reads += 1
            versions.add(version)
            if found != expected:
                torn.append((version, expected, found))
        except Exception as exc:
            errors.append(repr(exc)[:300])
    print(json.dumps({"reads": reads, "errors": errors, "versions": sorted(versions),
                      "torn": torn}))
""")

MOBILE = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)"
LANDLINE = r"(^|[^0-9A-Za-z])0[0-9]{2,3}-?[0-9]{7,8}([^0-9A-Za-z]|$)"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+[.][A-Za-z]{2,}"


def personal_data_leaks(serving: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value in the serving database that still looks like a
    whole phone number or email address."""
    leaks = []
    with duckdb.connect(str(serving), read_only=True) as con:
        for schema, table, column in con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where data_type = 'VARCHAR'").fetchall():
            found = con.execute(
                f'select distinct "{column}" from {schema}."{table}" where '
                f'regexp_matches("{column}", ?) or regexp_matches("{column}", ?) '
                f'or regexp_matches("{column}", ?) limit 5', [MOBILE, LANDLINE, EMAIL]).fetchall()
            leaks += [(f"{schema}.{table}", column, v) for (v,) in found]
    return leaks
