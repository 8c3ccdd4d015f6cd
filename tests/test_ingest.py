"""`tiering ingest` against small hand-made landing zones: every bad-input outcome of issue 2,
the no-row-dropped invariant, idempotence, the as-of cut and pending deliveries."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest_fixtures import (
    append_raw_lines, csv_text, make_delivery, make_landing, rows_of, set_manifest_rows,
    write_entity, write_manifest,
)
from tiering.config import Paths
from tiering.contract import ENTITIES, entity
from tiering.ingest import ingest

NOV, DEC, JAN = date(2024, 11, 30), date(2024, 12, 31), date(2025, 1, 31)


@pytest.fixture()
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.delenv("TIERING_LANDING_DIR", raising=False)
    monkeypatch.setenv("TIERING_HOME", str(tmp_path / "home"))
    return Paths(home=tmp_path / "home")


def raw(paths: Paths, department: str, name: str) -> duckdb.DuckDBPyRelation:
    glob = paths.raw / department / name / "*.parquet"
    return duckdb.sql(f"select * from read_parquet('{glob}', union_by_name = true)")


def raw_rows(paths: Paths, department: str, name: str, select: str = "*",
             where: str = "true") -> list[tuple]:
    glob = paths.raw / department / name / "*.parquet"
    return duckdb.execute(f"select {select} from read_parquet('{glob}', union_by_name = true) "
                          f"where {where} order by _extract_date, _row_number").fetchall()


def raw_count(paths: Paths, department: str, name: str, where: str = "true") -> int:
    return len(raw_rows(paths, department, name, "1", where))


def quarantine(paths: Paths) -> list[dict]:
    files = list(paths.quarantine.rglob("*.parquet"))
    if not files:
        return []
    rel = duckdb.sql(f"select * from read_parquet({[str(f) for f in files]}) "
                     "order by _source_file, _row_number")
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


def log(paths: Paths) -> dict[tuple[str, date], dict]:
    rel = duckdb.sql(f"select * from '{paths.raw / '_ingestion_log.parquet'}'")
    return {(r["department"], r["extract_date"]): r
            for r in (dict(zip(rel.columns, row)) for row in rel.fetchall())}


def snapshot(paths: Paths) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(paths.home)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in paths.raw.rglob("*") if p.is_file() and p.name != ".ingest.lock"}


def assert_invariant(paths: Paths) -> None:
    """For every loaded delivery and file: loaded rows + quarantined rows = manifest rows."""
    for (department, extract_date), row in log(paths).items():
        if row["status"] != "loaded":
            continue
        folder = paths.landing / department / extract_date.isoformat()
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        for file_name, spec in manifest["files"].items():
            source = f"{department}/{extract_date}/{file_name}"
            name = file_name.rsplit(".", 1)[0]
            loaded = raw_count(paths, department, name, f"_source_file = '{source}'")
            bad = sum(1 for q in quarantine(paths) if q["_source_file"] == source)
            assert loaded + bad == spec["rows"], (source, loaded, bad, spec["rows"])
        assert row["rows_loaded"] + row["rows_quarantined"] == row["rows_expected"]


def test_loads_every_entity_with_lineage_and_string_columns(paths: Paths) -> None:
    make_landing(paths.landing, [NOV], n=15)
    summary = ingest(paths)
    assert len(summary.of("loaded")) == 6 and summary.ok
    for e in ENTITIES:
        rel = raw(paths, e.department, e.name)
        assert rel.columns[: len(e.columns)] == list(e.columns)
        assert [str(t) for t in rel.types[: len(e.columns)]] == ["VARCHAR"] * len(e.columns)
        assert rel.columns[len(e.columns):] == ["_department", "_entity", "_extract_date",
                                                "_source_file", "_row_number", "_loaded_at"]
        assert raw_count(paths, e.department, e.name) == 15
        assert (paths.raw / e.department / e.name / "_schema.parquet").exists()
    registry = raw_rows(paths, "external", "registry")[0]
    assert registry[2] == '["旧名0","曾用名0"]' and registry[5] == "2024-01-01"
    receipts = raw_rows(paths, "finance", "receipts")
    assert receipts[1][3] == "1,235,567.50"  # GBK decoded, text as delivered
    assert receipts[1][-3:-1] == ("finance/2024-11-30/receipts.csv", 2)
    profile = raw_rows(paths, "risk", "credit_profiles")[0]
    assert profile[10] == "true" and profile[5] == "0.5"
    assert_invariant(paths)


def test_schema_files_keep_globs_valid_before_any_delivery(paths: Paths) -> None:
    summary = ingest(paths)
    assert summary.results == []
    for e in ENTITIES:
        assert raw_count(paths, e.department, e.name) == 0


def test_delivery_without_manifest_is_pending_not_loaded(paths: Paths) -> None:
    make_delivery(paths.landing, "crm", NOV, manifest=False)
    summary = ingest(paths)
    assert [r.status for r in summary.results] == ["pending"]
    assert "pending" in summary.describe()
    assert log(paths)[("crm", NOV)]["status"] == "pending"
    assert raw_count(paths, "crm", "clients") == 0
    write_manifest(paths.landing / "crm" / NOV.isoformat(), "crm", NOV, {"clients.csv": 20})
    assert [r.status for r in ingest(paths).results] == ["loaded"]
    assert log(paths)[("crm", NOV)]["status"] == "loaded"


def test_as_of_ignores_later_deliveries(paths: Paths) -> None:
    make_landing(paths.landing, [NOV, DEC], n=10)
    summary = ingest(paths, as_of=NOV)
    assert {r.extract_date for r in summary.results} == {NOV}
    assert {d for _, d in log(paths)} == {NOV}
    assert not (paths.raw / "crm" / "clients" / f"{DEC}.parquet").exists()
    assert len(ingest(paths).of("loaded")) == 6  # later run without a cut picks December up


def test_row_count_mismatch_rejects_whole_delivery_others_still_load(paths: Paths) -> None:
    make_landing(paths.landing, [NOV], n=10)
    set_manifest_rows(paths.landing / "finance" / NOV.isoformat(), "receipts.csv", 12)
    summary = ingest(paths)
    [rejected] = summary.of("rejected")
    assert rejected.department == "finance"
    assert "receipts.csv" in rejected.message and "12" in rejected.message \
        and "found 10" in rejected.message
    assert "REJECTED  finance/2024-11-30: receipts.csv" in summary.describe()
    assert log(paths)[("finance", NOV)]["status"] == "rejected"
    for name in ("customers", "receipts", "statements"):  # nothing of the delivery loaded
        assert raw_count(paths, "finance", name) == 0
    assert len(summary.of("loaded")) == 5
    assert_invariant(paths)


def test_missing_required_column_rejects_delivery_naming_file_and_column(paths: Paths) -> None:
    folder = make_delivery(paths.landing, "projects", NOV, n=10)
    projects = entity("projects", "projects")
    columns = [c for c in projects.columns if c != "status"]
    write_entity(folder, projects, rows_of(projects, 10), columns=columns)
    make_delivery(paths.landing, "service", NOV, n=10)
    summary = ingest(paths)
    [rejected] = summary.of("rejected")
    assert rejected.message == "projects.csv: required column status is missing"
    assert raw_count(paths, "projects", "participations") == 0
    assert [r.department for r in summary.of("loaded")] == ["service"]


def test_unknown_extra_column_is_loaded_with_a_warning(paths: Paths) -> None:
    folder = make_delivery(paths.landing, "crm", NOV, n=10)
    clients = entity("crm", "clients")
    rows = [dict(r, wechat_id=f"wx{i}") for i, r in enumerate(rows_of(clients, 10))]
    write_entity(folder, clients, rows, columns=list(clients.columns) + ["wechat_id"])
    summary = ingest(paths)
    [loaded] = summary.of("loaded")
    assert any("unknown extra column(s) wechat_id" in w for w in loaded.warnings)
    assert "warning: clients.csv: unknown extra column(s) wechat_id" in summary.describe()
    assert "wechat_id" in log(paths)[("crm", NOV)]["message"]
    values = raw_rows(paths, "crm", "clients", "wechat_id")
    assert values[:2] == [("wx0",), ("wx1",)]


def test_malformed_and_undecodable_csv_rows_are_quarantined(paths: Paths) -> None:
    folder = make_delivery(paths.landing, "finance", NOV, n=10)
    receipts = entity("finance", "receipts")
    good = csv_text(list(receipts.columns), rows_of(receipts, 4, start=100)).splitlines()[1:]
    path = folder / "receipts.csv"
    append_raw_lines(path, [
        "V9000001,F0000001,2024/03/05".encode("gbk"),  # row 11: too few columns
        good[0].encode("gbk"),  # row 12
        "V9000002,F0000002,2024/03/05,100,元,利息\xff收入,".encode("gbk", "replace")
        .replace(b"?", b"\xff\xfe"),  # row 13: bytes that are not GBK
        good[1].encode("gbk"),  # row 14
        'V9000003,F0000003,2024/03/05,"1,000",元,"多行\n备注",P1,extra'.encode("gbk"),  # 15
        good[2].encode("gbk"),  # row 16
    ])
    set_manifest_rows(folder, "receipts.csv", 16)
    summary = ingest(paths)
    [loaded] = summary.of("loaded")
    assert loaded.rows_quarantined == 3
    bad = {q["_row_number"]: q for q in quarantine(paths)}
    assert sorted(bad) == [11, 13, 15]
    assert bad[11]["reason"] == ("finance/2024-11-30/receipts.csv row 11: wrong column count "
                                 "(expected 7, found 3)")
    assert bad[11]["raw_text"] == "V9000001,F0000001,2024/03/05"
    assert "row 13: undecodable bytes (not gbk)" in bad[13]["reason"]
    assert bad[13]["raw_text"].startswith("V9000002,F0000002") and "\\xff" in bad[13]["raw_text"]
    assert "row 15: wrong column count (expected 7, found 8)" in bad[15]["reason"]
    kept = dict(raw_rows(paths, "finance", "receipts", "voucher_no, _row_number",
                         "voucher_no like 'V00001%'"))
    assert kept == {"V0000100": 12, "V0000101": 14, "V0000102": 16}
    assert_invariant(paths)


def test_rows_failing_type_checks_are_quarantined_but_impossible_values_are_not(
        paths: Paths) -> None:
    folder = paths.landing / "finance" / NOV.isoformat()
    receipts = entity("finance", "receipts")
    rows = rows_of(receipts, 6)
    rows[1]["amount"] = "12x"
    rows[2]["receipt_date"] = "2024/13/45"
    rows[3]["voucher_no"] = " "
    rows[4]["receipt_date"] = "2099/12/31"  # future: valid type, staging flags it
    rows[5]["amount"] = "-1,234,567.89"  # a reversal
    write_entity(folder, receipts, rows)
    write_manifest(folder, "finance", NOV, {"receipts.csv": 6})
    ingest(paths)
    bad = {q["_row_number"]: q for q in quarantine(paths)}
    assert sorted(bad) == [2, 3, 4]
    assert bad[2]["reason"].endswith("row 2: field amount is not a valid number: '12x'")
    assert "field receipt_date is not a valid date: '2024/13/45'" in bad[3]["reason"]
    assert "key field voucher_no is missing" in bad[4]["reason"]
    assert bad[2]["raw_text"].startswith("V0000001,F0000001,2024/01/02,12x,")
    assert raw_count(paths, "finance", "receipts") == 3
    assert_invariant(paths)


def test_broken_json_lines_are_quarantined_with_line_numbers(paths: Paths) -> None:
    folder = make_delivery(paths.landing, "service", NOV, n=5)
    append_raw_lines(folder / "tickets.jsonl", [
        b'{"ticket_id": "T9", "opened_at": "2024-03-05T09:30:00+08:00", "caller_phone": ',  # 6
        b"",  # 7: blank line, not a row
        '{"ticket_id": "T10", "opened_at": "2024-03-05", "caller_name": "\xff"}'.encode(
            "latin-1"),  # 8: undecodable UTF-8
        b'["T11"]',  # 9: JSON, but not an object
        b'{"ticket_id": "T12", "opened_at": "2024-03-05", "caller_phone": "138", "x": 1}',  # 10
    ])
    set_manifest_rows(folder, "tickets.jsonl", 9)
    summary = ingest(paths)
    [loaded] = summary.of("loaded")
    assert (loaded.rows_loaded, loaded.rows_quarantined) == (6, 3)
    bad = {q["_row_number"]: q for q in quarantine(paths)}
    assert sorted(bad) == [6, 8, 9]
    assert "row 6: not valid JSON" in bad[6]["reason"]
    assert bad[6]["raw_text"].startswith('{"ticket_id": "T9"')
    assert "row 8: undecodable bytes" in bad[8]["reason"] and "\\xff" in bad[8]["raw_text"]
    assert "not a JSON object" in bad[9]["reason"]
    [last] = raw_rows(paths, "service", "tickets", "_row_number, x, satisfaction",
                      "ticket_id = 'T12'")
    assert last == (10, "1", None)
    assert any("unknown extra column(s) x" in w for w in loaded.warnings)
    assert_invariant(paths)


def test_same_delivery_twice_changes_nothing(paths: Paths) -> None:
    make_landing(paths.landing, [NOV, DEC], n=10)
    make_delivery(paths.landing, "crm", JAN, manifest=False)
    set_manifest_rows(paths.landing / "risk" / DEC.isoformat(), "risk_events.jsonl", 3)
    first = ingest(paths)
    before = snapshot(paths)
    second = ingest(paths)
    assert snapshot(paths) == before
    assert len(second.of("skipped")) == len(first.of("loaded")) + len(first.of("rejected"))
    assert not second.of("loaded") and len(second.of("pending")) == 1


def test_redelivery_replaces_and_later_incremental_delivery_is_kept_as_correction(
        paths: Paths) -> None:
    receipts = entity("finance", "receipts")
    for extract_date, amount in ((NOV, "100.00"), (DEC, "90.00")):
        folder = paths.landing / "finance" / extract_date.isoformat()
        rows = rows_of(receipts, 3)
        rows[0]["amount"] = amount
        write_entity(folder, receipts, rows)
        write_manifest(folder, "finance", extract_date, {"receipts.csv": 3})
    ingest(paths)
    versions = raw_rows(paths, "finance", "receipts", "_extract_date, amount",
                        "voucher_no = 'V0000000'")
    assert versions == [(NOV, "100.00"), (DEC, "90.00")]  # both kept, staging picks the latest
    folder = paths.landing / "finance" / DEC.isoformat()
    write_entity(folder, receipts, rows_of(receipts, 2))  # the department re-delivers December
    write_manifest(folder, "finance", DEC, {"receipts.csv": 2})
    assert [r.status for r in ingest(paths).results] == ["skipped", "loaded"]
    assert raw_count(paths, "finance", "receipts", f"_extract_date = '{DEC}'") == 2
    assert_invariant(paths)


def test_broken_redelivery_keeps_the_loaded_version(paths: Paths) -> None:
    folder = make_delivery(paths.landing, "crm", NOV, n=5)
    ingest(paths)
    set_manifest_rows(folder, "clients.csv", 6)
    [result] = ingest(paths).results
    assert result.status == "rejected" and "loaded before is kept" in result.message
    assert raw_count(paths, "crm", "clients") == 5


def test_cli_prints_the_summary(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    from tiering.cli import main

    make_delivery(paths.landing, "crm", NOV, n=3)
    assert main(["ingest", "--as-of", "2024-12-31"]) == 0
    assert "1 loaded" in capsys.readouterr().out
