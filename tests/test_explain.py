"""`tiering client`: resolving a query to a client and tracing it to the delivered rows, on a small
serving database written here (the same on a real refresh: tests/test_pipeline.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiering.cli import main as cli_main
from tiering.config import get_paths

AS_OF = date(2026, 10, 31)
OLD, NEW, OTHER = "C000000000001", "C0000000000aa", "C0000000000bb"


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    monkeypatch.delenv("TIERING_LANDING_DIR", raising=False)
    paths = get_paths()
    with duckdb.connect(str(paths.serving)) as con:
        con.execute("create schema marts")
        con.execute("""create table marts.dim_clients as select * from (values
            ('C0000000000aa', '深圳中鼎经纬实业发展有限公司', '91440300MA5F00000X', '广东', '深圳',
             'external', 3, 0.9, true, true, false, false, false, true,
             date '2025-01-31', date '2026-10-31'),
            ('C0000000000bb', '深圳中鼎经纬投资有限公司', null, '广东', '深圳',
             'crm', 1, 0.5, true, false, false, false, false, false,
             date '2025-03-31', date '2026-10-31'))
            t(client_key, registered_name, uscc, province, city, registered_name_source,
              source_record_count, completeness_score, has_crm, has_finance, has_risk,
              has_projects, has_service, has_external, first_seen_date, last_seen_date)""")
        con.execute("""create table marts.client_source_xref as select * from (values
            ('crm', 'clients', 'CRM000001', 'C0000000000aa', 'uscc', 1.0,
             date '2025-01-31', date '2026-10-31', 'crm/2026-10-31/clients.csv', 2),
            ('finance', 'customers', 'F0000001', 'C0000000000aa', 'anchor', 1.0,
             date '2025-01-31', date '2026-10-31', 'finance/2026-10-31/customers.csv', 1),
            ('external', 'registry', '91440300MA5F00000X', 'C0000000000aa', 'uscc', 1.0,
             date '2025-02-28', date '2026-10-31', 'external/2026-10-31/registry.parquet', 1),
            ('crm', 'clients', 'CRM000002', 'C0000000000bb', 'anchor', 1.0,
             date '2025-03-31', date '2026-10-31', 'crm/2026-10-31/clients.csv', 1))
            t(department, entity, record_id, client_key, match_rule, match_score,
              first_seen_date, last_seen_date, source_file, source_row_number)""")
        con.execute("""create table marts.client_key_changes as select * from (values
            (date '2025-06-30', date '2025-05-31', 'C000000000001', 'C0000000000aa', 'merge',
             'uscc', 1)) t(as_of_date, previous_as_of_date, old_client_key, new_client_key,
             change_type, reason, moved_record_count)""")
        con.execute("""create table marts.client_tiers as select * from (values
            ('C0000000000aa', date '2026-09-30', 'default', 'B', 58.0, 0.02, 'none',
             '价值贡献突出', null, null, false, null, null, null, 60.0, 55.0),
            ('C0000000000aa', date '2026-10-31', 'default', 'A', 66.0, 0.01, 'none',
             '价值贡献突出', '资信与偿债能力强', null, false, null, null, null, 70.0, 62.0),
            ('C0000000000aa', date '2026-10-31', '基础设施', 'B', 61.0, 0.01, 'none',
             '资信与偿债能力强', null, null, false, null, null, null, 70.0, 62.0))
            t(client_key, period_date, profile_code, tier_code, composite_score, pd_12m,
              guardrail_code, reason_label_1, reason_label_2, reason_label_3, is_override,
              override_id, override_reason, override_approver, value_score, credit_score)""")
    crm = paths.raw / "crm" / "clients"
    crm.mkdir(parents=True)
    pq.write_table(pa.table({"crm_id": ["CRM000002", "CRM000001"],
                             "client_name": ["中鼎经纬投资", "中鼎经纬（深圳）实业发展有限公司"],
                             "uscc": [None, "91440300ma5f00000x"],
                             "contact_phone": ["0755-1234 5678", "138-1234-5678"],
                             "_row_number": [1, 2]}), crm / f"{AS_OF}.parquet")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], query: str) -> tuple[int, str, str]:
    code = cli_main(["client", query])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_client_is_traced_to_the_rows_as_delivered(home: Path, capsys) -> None:
    code, out, err = run(capsys, NEW)
    assert code == 0, err
    assert out.startswith(f"Client {NEW}  深圳中鼎经纬实业发展有限公司")
    assert "registered_name:       深圳中鼎经纬实业发展有限公司  (from external)" in out
    assert "Source records (3)" in out and "CRM000002" not in out  # the other client's record
    # the crm row as the department typed it, found in the raw layer by file and row
    assert ("client_name=中鼎经纬（深圳）实业发展有限公司  uscc=91440300ma5f00000x  "
            "contact_phone=138-1234-5678  (crm/2026-10-31/clients.csv, row 2)") in out
    assert "(raw row not found)  (finance/2026-10-31/customers.csv, row 1)" in out
    assert f"2025-06-30  merge  {OLD} -> {NEW}  1 record(s)  (uscc)" in out
    assert "Tiers as of 2026-10-31" in out
    assert "default    A   66.00  PD 1.00%  价值贡献突出; 资信与偿债能力强" in out
    assert "基础设施" in out and "default tier history: 2026-09 B, 2026-10 A" in out


def test_every_kind_of_query_finds_the_client(home: Path, capsys) -> None:
    for query in ("crm:CRM000001", "finance:F0000001", "9144 0300 MA5F 0000 0X", "实业发展"):
        code, out, err = run(capsys, query)
        assert code == 0 and out.startswith(f"Client {NEW}"), (query, err)
    # a key a merge retired: followed to the key that holds its records now
    code, out, _ = run(capsys, OLD)
    assert code == 0
    assert out.startswith(f"{OLD} was retired on 2025-06-30 (merge: uscc); its records are now "
                          f"with {NEW}")
    # a name two clients carry: listed, nothing guessed
    code, out, err = run(capsys, "中鼎经纬")
    assert code == 1 and "matches several clients" in err
    assert NEW in err and OTHER in err
    code, _, err = run(capsys, "crm:CRM999999")
    assert code == 1 and "no source record crm:CRM999999" in err
    code, _, err = run(capsys, "C0000000000ff")
    assert code == 1 and "no client C0000000000ff" in err


def test_without_a_published_version_it_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    code, _, err = run(capsys, "anything")
    assert code == 1 and "nothing has been published yet" in err
