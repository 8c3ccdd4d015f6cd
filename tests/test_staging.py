"""Staging models and cleaning macros end to end.

A tiny raw layer (Parquet exactly as docs/architecture.md "Raw layer" describes, hand-made rows
covering each messy format of the delivery contract, plus a few hundred generated USCC / phone /
date cases checked against independent Python references) is written into a temporary
TIERING_HOME; then `dbt build --select +staging` runs every staging model, its data tests and its
unit tests, and the assertions read the staging views.
"""

from __future__ import annotations

import os
import random
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_cli import run_dbt

from tiering.contract import ENTITIES, entity
from tiering.tools import gen_char_maps

PROJECT_DIR = Path(__file__).absolute().parent.parent
AS_OF = "2026-10-31"

# --- independent references (Python, not SQL) --------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_check(code8: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(code8, (3, 7, 9, 10, 5, 8, 4, 2)))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_check(code17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(code17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(rng: random.Random) -> str:
    org8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    body = rng.choice("159") + "1" + f"{rng.randrange(110000, 660000):06d}" + org8 + org_check(org8)
    return body + uscc_check(body)


def reference_status(code: str | None) -> str:
    code = re.sub(r"[\s._/-]+", "", code or "").upper()
    if not code:
        return "missing"
    if re.fullmatch(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}", code):
        ok = code[17] == uscc_check(code[:17]) and code[16] == org_check(code[8:16])
        return "valid" if ok else "invalid_check"
    if re.fullmatch(r"[0-9]{6}[0-9A-Z]{8}[0-9X]", code):
        return "legacy_tax_id"
    return "malformed"


# --- raw layer writer --------------------------------------------------------------------------
def _schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema(
        [pa.field(c, pa.string()) for c in columns]
        + [pa.field("_department", pa.string()), pa.field("_entity", pa.string()),
           pa.field("_extract_date", pa.date32()), pa.field("_source_file", pa.string()),
           pa.field("_row_number", pa.int64()),
           pa.field("_loaded_at", pa.timestamp("us", tz="UTC"))])


def write_delivery(raw: Path, department: str, name: str, extract_date: str,
                   rows: list[dict[str, str | None]]) -> None:
    ent = entity(department, name)
    n = len(rows)
    data: dict[str, list] = {c: [r.get(c) for r in rows] for c in ent.columns}
    data |= {
        "_department": [department] * n,
        "_entity": [name] * n,
        "_extract_date": [date.fromisoformat(extract_date)] * n,
        "_source_file": [f"{department}/{extract_date}/{ent.file_name}"] * n,
        "_row_number": list(range(1, n + 1)),
        "_loaded_at": [datetime(2026, 11, 28, tzinfo=timezone.utc)] * n,
    }
    folder = raw / department / name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data, schema=_schema(ent.columns)), folder / f"{extract_date}.parquet")


def write_schema_files(raw: Path) -> None:
    for ent in ENTITIES:
        folder = raw / ent.department / ent.name
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(_schema(ent.columns).empty_table(), folder / "_schema.parquet")


# --- the raw layer used by every test ----------------------------------------------------------
RNG = random.Random(20261128)
VALID = [make_uscc(RNG) for _ in range(150)]


def _corrupt(code: str, rng: random.Random) -> str:
    """A transposed pair of different characters inside the organisation code (the contract's
    typical typo; a pair crossing into the division digits would be `malformed` instead)."""
    while True:
        i = rng.randrange(8, 16)
        if code[i] != code[i + 1]:
            return code[:i] + code[i + 1] + code[i] + code[i + 2:]


USCC_CASES: list[str | None] = (
    VALID[:50]
    + [c.lower() for c in VALID[50:70]]
    + [f"{c[:6]} {c[6:12]}-{c[12:]}" for c in VALID[70:90]]
    + [_corrupt(c, RNG) for c in VALID[90:150]]
    + [c[2:8] + c[8:17] for c in VALID[:20]]  # legacy 15-character tax numbers
    + [c[:17] for c in VALID[:10]] + ["", None, "N/A", "91110000600037341O"]
)
PHONE_CASES = {
    "13812345678": "13812345678",
    "138-1234-5678": "13812345678",
    "+86 138 1234 5678": "13812345678",
    "+86-13812345678": "13812345678",
    "(+86)13812345678": "13812345678",
    "138 1234 5678": "13812345678",
    "010-87654321": "010-87654321",
    "(010)87654321": "010-87654321",
    "010 8765 4321": "010-87654321",
    "+86 10 8765 4321": "010-87654321",
    "+86-10-87654321": "010-87654321",
    "+86-755-87654321": "0755-87654321",
    "+86 571 8765 4321": "0571-87654321",
    "0086 21 12345678": "021-12345678",
    "+86-21-12345678": "021-12345678",
    "+86 (0)755 8765 4321": "0755-87654321",
    "86 0571 87654321": "0571-87654321",
    "+86 10 1234567": "010-1234567",
    "0086 139 1234 5678": "13912345678",
    "0755-8765432": "0755-8765432",
    "0571-87654321转801": "0571-87654321",
    "021-12345678-801": "021-12345678",
    "８７６５４３２１": None,
    "12345": None,
}
DATE_CASES = {
    "2024-03-05": "2024-03-05",
    "2024/3/5": "2024-03-05",
    "2024/03/05": "2024-03-05",
    "2024年3月5日": "2024-03-05",
    "45356": "2024-03-05",
    "2024-02-30": None,
    "soon": None,
    "\t2024/3/5": "2024-03-05",  # Excel's "keep as text" tab before the date
}
CLIENT_NAMES = {  # raw -> (core, region, legal form, branch)
    "中鼎经纬（北京）实业发展有限公司": ("中鼎经纬实业发展", "北京", "有限公司", None),
    "北京中鼎经纬实业发展有限公司": ("中鼎经纬实业发展", "北京", "有限公司", None),
    "北京市中鼎經緯實業發展有限責任公司": ("中鼎经纬实业发展", "北京", "有限责任公司", None),
    "中鼎经纬实业发展有限公司上海分公司": ("中鼎经纬实业发展", None, "有限公司", "上海分公司"),
    "中鼎经纬投资股份有限公司": ("中鼎经纬投资", None, "股份有限公司", None),
    "中鼎经纬": ("中鼎经纬", None, None, None),
    " 中鼎经纬 实业发展有限公司 ": ("中鼎经纬实业发展", None, "有限公司", None),
    "〔广州〕南粤能源集团有限公司": ("南粤能源集团", "广州", "有限公司", None),
    "宁夏回族自治区贺兰山酒业有限公司": ("贺兰山酒业", "宁夏", "有限公司", None),
    # every prefecture-level city, not only the big ones; short forms that begin ordinary names
    # (长治, 安康, ...) only inside brackets
    "江门市粤星照明电器有限公司": ("粤星照明电器", "江门", "有限公司", None),
    "粤星照明电器（江门）有限公司": ("粤星照明电器", "江门", "有限公司", None),
    "长治久安科技股份有限公司": ("长治久安科技", None, "股份有限公司", None),
    "安康（长治）医疗有限公司": ("安康医疗", "长治", "有限公司", None),
    # a bracketed region whose opening bracket was typed wrong: the wrong character goes with it
    # when the region is known; a stray bracket after anything else is left as it is
    "浩宇興洛阳）商贸有限公司": ("浩宇商贸", "洛阳", "有限公司", None),
    "中鼎经纬实业）有限公司": ("中鼎经纬实业)", None, "有限公司", None),
    # 乾 is a simplified character too (乾元, 乾坤); 傢俱 is 家具 in traditional characters
    "乾元（上海）置业有限公司": ("乾元置业", "上海", "有限公司", None),
    "洛陽八方傢俱有限公司": ("八方家具", "洛阳", "有限公司", None),
    # a no-break space inside, a tab before, a zero-width space after: white space all the same
    "上海华信\u00a0致远物流有限公司": ("华信致远物流", "上海", "有限公司", None),
    "\t华信致远物流有限公司\u200b": ("华信致远物流", None, "有限公司", None),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    home = tmp_path_factory.mktemp("stg_home")
    raw = home / "raw"
    write_schema_files(raw)

    names = list(CLIENT_NAMES)
    clients = [
        {"crm_id": f"CRM{i:06d}", "client_name": names[i % len(names)], "uscc": code,
         "contact_phone": list(PHONE_CASES)[i % len(PHONE_CASES)],
         "association_member": ["是", "否", None][i % 3], "listed": ["Y", "N", None][i % 3],
         "client_type": "民营企业", "created_at": "2024-03-05 10:00:00",
         "province": ["北京", "北京市"][i % 2], "city": "北京"}
        for i, code in enumerate(USCC_CASES)
    ]
    write_delivery(raw, "crm", "clients", "2026-09-30", clients)
    # October: everyone but the last client (who vanished); one name changed. (Two rows of one
    # key in one delivery break the raw grain test; the unit tests cover that dedupe.)
    october = [dict(c) for c in clients[:-1]]
    october[1]["client_name"] = "中鼎经纬第二版有限公司"
    write_delivery(raw, "crm", "clients", "2026-10-31", october)
    # November lies after the as-of date and must be ignored
    write_delivery(raw, "crm", "clients", "2026-11-30", [dict(clients[0], client_name="未来公司")])

    write_delivery(raw, "finance", "customers", "2026-10-31", [
        {"customer_code": "F0000001", "customer_name": "北京中鼎经纬实业发展有限公司",
         "tax_id": VALID[0]},
        {"customer_code": "F0000002", "customer_name": "中鼎经纬实业发展有限公司",
         "tax_id": VALID[1][2:8] + VALID[1][8:17]},
    ])
    write_delivery(raw, "finance", "receipts", "2026-09-30", [
        {"voucher_no": "V1", "customer_code": "F0000001", "receipt_date": "2026/09/15",
         "amount": "1,234,567.89", "unit": "元", "fee_type": "利息收入"},
        {"voucher_no": "V2", "customer_code": "F0000001", "receipt_date": "2026/09/20",
         "amount": "12.5", "unit": "万元", "fee_type": "担保费"},
    ])
    write_delivery(raw, "finance", "receipts", "2026-10-31", [
        {"voucher_no": "V2", "customer_code": "F0000001", "receipt_date": "2026/09/20",
         "amount": "13", "unit": "万元", "fee_type": "担保费"},
        {"voucher_no": "V3", "customer_code": "F0000002", "receipt_date": "2026/10/02",
         "amount": "-3,000.00", "unit": "元", "fee_type": "冲销"},
    ])
    write_delivery(raw, "finance", "statements", "2026-10-31", [
        {"customer_code": "F0000001", "fiscal_year": "2025", "revenue": "1,250.5",
         "total_assets": "8000", "total_liabilities": "-1", "audited": "是"},
    ])
    write_delivery(raw, "risk", "credit_profiles", "2026-10-31", [
        {"risk_client_no": "R1", "client_name": "中鼎经纬(北京)实业发展有限公司",
         "uscc": VALID[0], "internal_rating": "AA", "rating_date": "2026-06-30",
         "credit_limit": "50000000", "outstanding_balance": "-5", "max_overdue_days": "0",
         "on_watchlist": "false", "guarantee_type": "保证"},
    ])
    write_delivery(raw, "risk", "risk_events", "2026-10-31", [
        {"event_id": "E1", "risk_client_no": "R1", "event_date": "2026-11-15",
         "event_type": "逾期", "amount": None, "severity": "2"},
    ])
    write_delivery(raw, "projects", "projects", "2026-10-31", [
        {"project_code": f"P{i}", "project_type": "新能源", "status": "在建", "risk_level": "中",
         "start_date": raw_date, "planned_end_date": "2030年12月31日",
         "total_investment": "12.5", "financing_need": "3,000"}
        for i, raw_date in enumerate(DATE_CASES)
    ])
    write_delivery(raw, "projects", "participations", "2026-10-31", [
        {"project_code": "P0", "partner_name": "中鼎經緯", "role": "借款人",
         "committed_amount": "1,000", "delivered_on_time": "是"},
        {"project_code": "P0", "partner_name": "中鼎經緯（北京）实业发展有限公司",
         "role": "担保方", "committed_amount": "20.5"},
    ])
    write_delivery(raw, "service", "tickets", "2026-10-31", [
        {"ticket_id": "T1", "opened_at": "2026-10-08T09:15:00+08:00", "closed_at": None,
         "caller_phone": "+86 138 1234 5678", "company_mentioned": "中鼎经纬公司",
         "channel": "电话", "category": "咨询", "satisfaction": "4"},
    ])
    write_delivery(raw, "external", "registry", "2026-10-31", [
        {"uscc": VALID[0], "registered_name": "北京中鼎经纬实业发展有限公司",
         "former_names": '["北京中鼎实业有限公司","中鼎經緯（北京）實業有限公司"]',
         "association_memberships": '["中国投资协会"]', "registered_capital": "5000",
         "established_date": "2003-05-20", "registration_status": "存续",
         "industry_code": "K7010", "listed_board": None},
    ])

    # the as-of date as `tiering` gives it (macros/as_of_date.sql)
    env = dict(os.environ, TIERING_AS_OF_DATE=str(AS_OF))
    env.pop("TIERING_LANDING_DIR", None)
    proc = run_dbt(
        # cautious: leave out tests of later layers that merely touch a staging model
        home, "build", "--select", "+staging", "--exclude", "path:models/staging/ml",
        "--indirect-selection", "cautious", env=env)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --- tests -------------------------------------------------------------------------------------
def test_char_maps_are_generated_and_current() -> None:
    committed = (PROJECT_DIR / "macros" / "cleaning" / "_char_maps.sql").read_text("utf-8")
    width, t2s = gen_char_maps.width_map(), gen_char_maps.t2s_map()
    assert committed == gen_char_maps.render(width, t2s)
    assert width["（"] == "(" and width["【"] == "(" and width["\u3000"] == " "
    assert t2s["經"] == "经" and t2s["緯"] == "纬" and len(t2s) > 2500


def test_raw_fixture_columns_follow_the_contract() -> None:
    text = (PROJECT_DIR / "macros" / "cleaning" / "raw_fixtures.sql").read_text("utf-8")
    for ent in ENTITIES:
        match = re.search(rf"'{ent.department}\.{ent.name}': \[([^\]]*)\]", text)
        assert match, f"{ent.department}.{ent.name} missing in raw_columns()"
        assert tuple(re.findall(r"'(\w+)'", match.group(1))) == ent.columns


def test_every_staging_model_is_built(warehouse: duckdb.DuckDBPyConnection) -> None:
    built = {t for (t,) in _rows(warehouse, "select table_name from information_schema.tables "
                                            "where table_schema = 'staging'")}
    expected = {f"stg_{e.department}__{e.name}" for e in ENTITIES}
    assert expected | {"stg_external__registry_former_names"} <= built


def test_uscc_status_matches_the_python_reference(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = _rows(warehouse, "select crm_id, uscc_status from staging.stg_crm__clients "
                           "where extract_date = '2026-09-30'")
    by_id = dict(got)
    mismatches = [(code, by_id[f"CRM{i:06d}"], reference_status(code))
                  for i, code in enumerate(USCC_CASES)
                  if by_id[f"CRM{i:06d}"] != reference_status(code)]
    assert not mismatches, mismatches[:10]
    counts = {s: list(by_id.values()).count(s) for s in set(by_id.values())}
    # every transposed pair is caught, every clean / lower-case / spaced valid code passes
    assert counts["valid"] == 90 and counts["invalid_check"] == 60
    assert counts["legacy_tax_id"] == 20 and counts["missing"] == 2


def test_phones_are_canonical(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = dict(_rows(warehouse, "select distinct contact_phone_raw, contact_phone "
                                "from staging.stg_crm__clients"))
    assert got == PHONE_CASES


def test_company_names_are_split(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = {r[0]: r[1:] for r in _rows(warehouse, """
        select distinct client_name_raw, client_name_core, client_name_region,
               client_name_legal_form, client_name_branch
        from staging.stg_crm__clients where extract_date = '2026-09-30'""")}
    assert got == CLIENT_NAMES


def test_snapshot_versions(warehouse: duckdb.DuckDBPyConnection) -> None:
    deliveries = _rows(warehouse, """
        select extract_date, count(*), count_if(is_latest_delivery), count_if(is_latest_version)
        from staging.stg_crm__clients group by 1 order by 1""")
    n = len(USCC_CASES)
    assert deliveries == [
        (date(2026, 9, 30), n, 0, 1),  # only the vanished client's last version is latest
        (date(2026, 10, 31), n - 1, n - 1, n - 1),  # no November rows (after the as-of date)
    ]
    (name,) = _rows(warehouse, "select client_name_raw from staging.stg_crm__clients "
                               "where crm_id = 'CRM000001' and is_latest_version")[0]
    assert name == "中鼎经纬第二版有限公司"  # the newest delivered version


def test_incremental_latest_delivery_wins(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = _rows(warehouse, """
        select voucher_no, receipt_amount, is_reversal, receipt_date, extract_date,
               first_extract_date
        from staging.stg_finance__receipts order by voucher_no""")
    assert [(v, float(a), r) for v, a, r, *_ in got] == [
        ("V1", 1234567.89, False), ("V2", 130000.0, False), ("V3", -3000.0, True)]
    assert got[1][3:] == (date(2026, 9, 20), date(2026, 10, 31), date(2026, 9, 30))


def test_dates_in_every_format(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = dict(_rows(warehouse, "select project_code, start_date from staging.stg_projects__projects"))
    expected = {f"P{i}": (date.fromisoformat(v) if v else None)
                for i, v in enumerate(DATE_CASES.values())}
    assert got == expected
    (amounts,) = _rows(warehouse, "select distinct total_investment_amount, financing_need_amount "
                                  "from staging.stg_projects__projects")
    assert tuple(float(a) for a in amounts) == (1_250_000_000.0, 30_000_000.0)


def test_impossible_values_are_flagged_not_dropped(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert _rows(warehouse, "select is_negative_balance from staging.stg_risk__credit_profiles"
                 ) == [(True,)]
    assert _rows(warehouse, "select is_future_date from staging.stg_risk__risk_events") == [(True,)]
    assert _rows(warehouse, "select is_negative_balance, is_audited "
                            "from staging.stg_finance__statements") == [(True, True)]


def test_registry_lists(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert _rows(warehouse, "select association_count, former_name_count, industry_section "
                            "from staging.stg_external__registry") == [(1, 2, "K")]
    got = _rows(warehouse, """
        select former_name_position, former_name_core, former_name_region
        from staging.stg_external__registry_former_names order by 1""")
    assert got == [(1, "中鼎实业", "北京"), (2, "中鼎经纬实业", "北京")]


def test_free_text_partners_and_mentions(warehouse: duckdb.DuckDBPyConnection) -> None:
    got = _rows(warehouse, """
        select partner_name_core, committed_amount, is_delivered_on_time
        from staging.stg_projects__participations order by role""")
    assert [(c, float(a), d) for c, a, d in got] == [
        ("中鼎经纬", 10000000.0, True), ("中鼎经纬实业发展", 205000.0, None)]
    assert _rows(warehouse, "select caller_phone, company_mentioned_core, opened_at "
                            "from staging.stg_service__tickets") == [
        ("13812345678", "中鼎经纬", datetime(2026, 10, 8, 9, 15))]
