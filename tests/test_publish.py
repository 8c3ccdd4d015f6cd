"""Write-audit-publish (tiering.publish): refuse on a failed blocking check, mask personal data,
keep publish_log history, export Parquet, and never disturb a concurrent BI reader."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import date
from types import SimpleNamespace

import duckdb
import pytest

from pub_fixtures import READER, build_home, personal_data_leaks, write_warehouse
from tiering.publish import PublishRefused, publish, spare_path

AS_OF = date(2026, 10, 31)
PASSED = [SimpleNamespace(suite="marts.client_tiers", expectation="expect_x(a)", success=True,
                          blocking=True, observed=None, message="")]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_masks_logs_and_exports(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:  # personal data inside free text, too
        con.execute("alter table marts.long_tail_clients add column note varchar")
        con.execute("update marts.long_tail_clients set note = '请联系 13912345678 或 li.si@corp.cn'")
    first = publish(paths, AS_OF, PASSED)
    second = publish(paths, AS_OF, PASSED * 3)
    assert (first.version, second.version) == (1, 2)
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        log = con.execute("select version, as_of_period, checks_run, checks_passed "
                          "from publish_log order by version").fetchall()
        assert log == [(1, AS_OF, 1, 1), (2, AS_OF, 3, 3)]
        row = con.execute("select contact_name, contact_phone, contact_email from marts.dim_clients "
                          "where client_key = 'C000001'").fetchone()
        assert row == ("张**", "138****0001", "z***@example.com")
        landline = con.execute("select contact_phone from marts.dim_clients "
                               "where client_key = 'C000004'").fetchone()[0]
        assert landline == "010-****0004"
        # unmasked non-personal columns survive, USCCs included
        assert con.execute("select count(*) from marts.dim_clients where uscc like '91%'"
                           ).fetchone()[0] == 200
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'marts'").fetchall()}
    assert personal_data_leaks(paths.serving) == []
    assert {column for _, column, _ in personal_data_leaks(paths.warehouse)} >= {
        "contact_phone", "contact_email", "note"}  # the build database keeps them: the scan works
    exported = {p.stem for p in (paths.exports / "2").glob("*.parquet")}
    exported |= {p.name for p in (paths.exports / "2").iterdir() if p.is_dir()}  # per period
    assert exported == tables
    # the build database keeps the full values
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select contact_phone from marts.dim_clients "
                           "where client_key = 'C000001'").fetchone()[0] == "13800000001"


def test_failed_blocking_check_refuses_and_leaves_serving_untouched(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF)
    publish(paths, AS_OF, PASSED)
    before = digest(paths.serving)
    bad = [*PASSED, SimpleNamespace(
        suite="marts.client_tiers",
        expectation="expect_compound_columns_to_be_unique(client_key,period_date,profile_code)",
        success=False, blocking=True, observed=None, message="2 of 201 rows unexpected")]
    with pytest.raises(PublishRefused, match=r"marts\.client_tiers\.expect_compound_columns"):
        publish(paths, AS_OF, bad)
    assert digest(paths.serving) == before
    assert not list(paths.home.glob(".serving*"))
    # a failed NON-blocking expectation does not stop publishing
    warn = SimpleNamespace(suite="marts.tier_shares", expectation="expect_y(share)",
                           success=False, blocking=False, observed=None, message="")
    assert publish(paths, AS_OF, [*PASSED, warn]).version == 2
    with pytest.raises(PublishRefused, match="no quality check results"):
        publish(paths, AS_OF, [])


def test_concurrent_reader_sees_whole_versions_and_no_errors(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF, n=300)
    publish(paths, AS_OF, PASSED)
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(paths.serving),
                               str(tmp_path / "never"), "12"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    for i in range(5):  # each version has a different size, so a torn read would show
        write_warehouse(paths, [AS_OF], n=300 + 40 * (i + 1), seed=i)
        publish(paths, AS_OF, PASSED)
        time.sleep(0.5)
    out, _ = reader.communicate(timeout=120)
    seen = json.loads(out)
    assert seen["errors"] == []
    assert seen["torn"] == []
    assert seen["reads"] > 10
    assert len(seen["versions"]) >= 3, seen


def _serving_rows(serving, table: str) -> list[tuple]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return sorted(con.execute(f"select * from marts.{table}").fetchall(), key=str)


def _masked_build_rows(paths, table: str) -> list[tuple]:
    """The build's rows as a from-scratch publish writes them (masked)."""
    fresh = paths.home / "fresh"
    fresh.mkdir(exist_ok=True)
    (fresh / "warehouse.duckdb").unlink(missing_ok=True)
    (fresh / "warehouse.duckdb").symlink_to(paths.warehouse)
    from tiering.config import Paths
    fresh_paths = Paths(home=fresh)
    fresh_paths.serving.unlink(missing_ok=True)
    publish(fresh_paths, AS_OF, PASSED)
    return _serving_rows(fresh_paths.serving, table)


def test_publish_copies_only_the_periods_that_changed(tmp_path, monkeypatch):
    """A new version starts from the previous serving file: client_tiers periods whose content
    is unchanged are neither copied nor exported again (hard links), a changed period is
    replaced, a vanished one removed, and the result equals a publish from scratch."""
    periods = [date(2026, 8, 31), date(2026, 9, 30), AS_OF]
    paths = build_home(tmp_path / "home", AS_OF, periods=periods)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("alter table marts.client_tiers add column override_reason varchar")
    publish(paths, AS_OF, PASSED)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("update marts.client_tiers set tier_code = 'D', override_reason = "
                    "'客户来电 13912345678 申请调整' where period_date = date '2026-09-30' "
                    "and client_key = 'C000007'")
        con.execute("delete from marts.client_tiers where period_date = date '2026-08-31'")
    second = publish(paths, AS_OF, PASSED)
    assert second.version == 2
    assert _serving_rows(paths.serving, "client_tiers") == _masked_build_rows(paths,
                                                                             "client_tiers")
    assert personal_data_leaks(paths.serving) == []
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        assert [p for (p,) in con.execute("select distinct period_date from marts.client_tiers "
                                          "order by 1").fetchall()] == periods[1:]
    first_export, second_export = (paths.exports / v / "client_tiers" for v in ("1", "2"))
    assert sorted(p.name for p in second_export.iterdir()) == ["2026-09-30.parquet",
                                                               "2026-10-31.parquet"]
    same_file = (first_export / "2026-10-31.parquet").stat().st_ino == (
        second_export / "2026-10-31.parquet").stat().st_ino
    rewritten = (first_export / "2026-09-30.parquet").stat().st_ino != (
        second_export / "2026-09-30.parquet").stat().st_ino
    assert same_file and rewritten
    with duckdb.connect() as con:  # the export holds the published (masked) rows
        exported = con.execute(f"select count(*) from read_parquet('{second_export}/*.parquet')"
                               ).fetchone()[0]
    assert exported == len(_serving_rows(paths.serving, "client_tiers"))

    # the third version compares with the fingerprints the second one stored, not with a scan of
    # the serving table, and they hold what the serving file holds
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("update marts.client_tiers set tier_code = 'C' where period_date = "
                    "date '2026-10-31' and client_key = 'C000003'")
    from tiering import publish as publishing
    # the small fixture leaves many free blocks: let version 3 start from version 2 anyway
    monkeypatch.setattr(publishing, "MAX_FREE_BLOCK_SHARE", 1.0)
    assert publishing._reusable(paths.serving)
    assert publish(paths, AS_OF, PASSED).version == 3
    assert _serving_rows(paths.serving, "client_tiers") == _masked_build_rows(paths,
                                                                             "client_tiers")
    assert sorted(p.name for p in (paths.exports / "3" / "client_tiers").iterdir()) == [
        "2026-09-30.parquet", "2026-10-31.parquet"]
    assert (paths.exports / "3" / "client_tiers" / "2026-09-30.parquet").stat().st_ino == (
        second_export / "2026-09-30.parquet").stat().st_ino
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        names = ", ".join(f'"{c}"' for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'client_tiers' order by ordinal_position").fetchall())
        stored = con.execute("select period_date, row_count, row_hash from "
                             "main.period_fingerprints where table_name = 'client_tiers' "
                             "order by 1").fetchall()
        actual = con.execute(f"select period_date, count(*), sum(hash({names})) from "
                             "marts.client_tiers group by 1 order by 1").fetchall()
    assert stored == actual and len(stored) == 2


def _record_versions(paths, versions: dict) -> None:
    """What client_tiers' pre-hook records in the build database (macros/publishing/
    period_versions.sql): the dbt invocation that last wrote each period."""
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("create table if not exists main.period_versions (table_name varchar, "
                    "period_date date, version varchar, recorded_at timestamp)")
        for period, version in versions.items():
            con.execute("delete from main.period_versions where table_name = 'client_tiers' "
                        "and period_date = ?", [period])
            con.execute("insert into main.period_versions values ('client_tiers', ?, ?, "
                        "current_timestamp)", [period, version])


def test_publish_copies_the_periods_whose_build_version_changed(tmp_path):
    """With the build's record of which dbt invocation wrote each period, a new version copies
    the periods whose version differs from the one the serving file holds, without reading
    (fingerprinting) the periods that did not change; a record that does not cover every
    period of the table is not trusted: the content is compared."""
    periods = [date(2026, 8, 31), date(2026, 9, 30), AS_OF]
    paths = build_home(tmp_path / "home", AS_OF, periods=periods)
    _record_versions(paths, {p: "run-1" for p in periods})
    publish(paths, AS_OF, PASSED)
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        assert con.execute("select period_date, version from main.period_versions "
                           "order by 1").fetchall() == [(p, "run-1") for p in periods]
        assert con.execute("select count(*) from main.period_fingerprints").fetchone()[0] == 0
    with duckdb.connect(str(paths.warehouse)) as con:  # run 2 rewrote October ...
        con.execute("update marts.client_tiers set tier_code = 'D' where period_date = ? "
                    "and client_key = 'C000007'", [AS_OF])
        # ... and a change no build recorded (never happens: a build records what it writes)
        # stays unread, which shows the unchanged periods were not compared by content
        con.execute("update marts.client_tiers set tier_code = 'D' where period_date = "
                    "date '2026-08-31' and client_key = 'C000007'")
    _record_versions(paths, {AS_OF: "run-2"})
    from tiering import publish as publishing
    calls = []
    original = publishing._fingerprints
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publishing, "MAX_FREE_BLOCK_SHARE", 1.0)
        patch.setattr(publishing, "_fingerprints",
                      lambda *args: calls.append(args) or original(*args))
        publish(paths, AS_OF, PASSED)
        assert calls == []
        with duckdb.connect(str(paths.serving), read_only=True) as con:
            tiers = dict(con.execute("select period_date, tier_code from marts.client_tiers "
                                     "where client_key = 'C000007'").fetchall())
            assert con.execute("select period_date, version from main.period_versions "
                               "order by 1").fetchall() == [
                (periods[0], "run-1"), (periods[1], "run-1"), (AS_OF, "run-2")]
        assert tiers[AS_OF] == "D" and tiers[periods[0]] != "D"
        first, second = (paths.exports / v / "client_tiers" for v in ("1", "2"))
        assert (first / "2026-09-30.parquet").stat().st_ino == (
            second / "2026-09-30.parquet").stat().st_ino
        assert (first / "2026-10-31.parquet").stat().st_ino != (
            second / "2026-10-31.parquet").stat().st_ino

        # a period the record does not cover: compared by content, every change found
        with duckdb.connect(str(paths.warehouse)) as con:
            con.execute("delete from main.period_versions where period_date = ?", [periods[1]])
        publish(paths, AS_OF, PASSED)
        assert len(calls) == 2  # the build's periods and the serving file's (none stored)
    assert _serving_rows(paths.serving, "client_tiers") == _masked_build_rows(paths,
                                                                             "client_tiers")


def _ino(path) -> int:
    return path.stat().st_ino


def _exported_rows(paths, version: int, table: str) -> list[tuple]:
    with duckdb.connect() as con:
        return sorted(con.execute(f"select * from read_parquet('{paths.exports}/{version}/"
                                  f"{table}/*.parquet')").fetchall(), key=str)


def test_publish_writes_into_the_spare_version_no_one_reads(tmp_path, monkeypatch):
    """Each publish keeps the file it replaces as the spare, and the next one writes into it
    (two versions old) instead of copying the serving file: same content as a publish from
    scratch, the whole history in publish_log, and exports that hold what was published, also
    when a period returns to the content the spare already holds."""
    from tiering import publish as publishing
    monkeypatch.setattr(publishing, "MAX_FREE_BLOCK_SHARE", 1.0)  # small fixture, free blocks
    periods = [date(2026, 9, 30), AS_OF]
    paths = build_home(tmp_path / "home", AS_OF, periods=periods)
    publish(paths, AS_OF, PASSED)
    first = _ino(paths.serving)
    copies = []
    original_copy = publishing.shutil.copyfile
    monkeypatch.setattr(publishing.shutil, "copyfile",
                        lambda *args: copies.append(args) or original_copy(*args))

    def set_tier(tier: str) -> None:
        with duckdb.connect(str(paths.warehouse)) as con:
            con.execute("update marts.client_tiers set tier_code = ? where period_date = ? "
                        "and client_key = 'C000007'", [tier, periods[0]])

    set_tier("D")
    publish(paths, AS_OF, PASSED)  # version 2: no spare yet, a copy of version 1
    second = _ino(paths.serving)
    assert len(copies) == 1 and _ino(spare_path(paths.serving)) == first
    set_tier("A")  # version 3: September as in neither version 1 nor 2
    publish(paths, AS_OF, PASSED)
    assert len(copies) == 1, "version 3 copied the serving file instead of using the spare"
    assert _ino(paths.serving) == first and _ino(spare_path(paths.serving)) == second
    set_tier("D")  # version 4: September back to version 2's content, which its spare holds
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("update marts.client_tiers set tier_code = 'C' where period_date = ? "
                    "and client_key = 'C000003'", [AS_OF])
    publish(paths, AS_OF, PASSED)
    assert len(copies) == 1 and _ino(paths.serving) == second
    published = _serving_rows(paths.serving, "client_tiers")
    assert published == _masked_build_rows(paths, "client_tiers")
    assert _exported_rows(paths, 4, "client_tiers") == published
    assert _serving_rows(paths.serving, "dim_clients") == _masked_build_rows(paths,
                                                                             "dim_clients")
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        assert [v for (v,) in con.execute("select version from main.publish_log "
                                          "order by 1").fetchall()] == [1, 2, 3, 4]
    # September of version 4 differs from version 3's: written again, not linked
    assert _ino(paths.exports / "4" / "client_tiers" / "2026-09-30.parquet") != _ino(
        paths.exports / "3" / "client_tiers" / "2026-09-30.parquet")


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
held = sys.argv[2]
before = con.execute(held).fetchone()
print("open", flush=True)
sys.stdin.readline()
after = con.execute(held).fetchone()
print(before == after, flush=True)
"""


@pytest.mark.parametrize("holder", ["another process", "this process"])
def test_publish_never_writes_a_spare_a_reader_still_holds(tmp_path, monkeypatch, holder):
    """A BI reader that opened version 1 before version 2 was published still holds it (now
    the spare) when version 3 is published: in another process (DuckDB refuses the write
    lock) or in this one (its open files). Version 3 is then a copy of version 2, and the
    reader's version 1 reads the same to the end."""
    from tiering import publish as publishing
    monkeypatch.setattr(publishing, "MAX_FREE_BLOCK_SHARE", 1.0)
    paths = build_home(tmp_path / "home", AS_OF, n=300)
    publish(paths, AS_OF, PASSED)
    first = _ino(paths.serving)
    held = "select count(*), sum(hash(client_key, period_date, tier_code)) from {}client_tiers"
    if holder == "another process":
        reader = subprocess.Popen([sys.executable, "-c", HOLDER, str(paths.serving),
                                   held.format("marts.")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert reader.stdout.readline().strip() == "open"
    else:
        reader = duckdb.connect()  # attached, not connected: connect() would cache the
        reader.execute(f"attach '{paths.serving}' as v1 (read_only)")  # instance by path
        before = reader.execute(held.format("v1.marts.")).fetchone()
    for i in range(2):  # version 1 becomes the spare, then is held when version 3 is written
        write_warehouse(paths, [AS_OF], n=340 + 40 * i, seed=i)
        publish(paths, AS_OF, PASSED)
        assert _ino(paths.serving) != first
        assert _serving_rows(paths.serving, "client_tiers") == _masked_build_rows(
            paths, "client_tiers")
    if holder == "another process":
        out, _ = reader.communicate("done\n", timeout=60)
        assert out.strip() == "True"
    else:
        assert reader.execute(held.format("v1.marts.")).fetchone() == before
        reader.close()
    # once nobody holds it, the spare is written again
    write_warehouse(paths, [AS_OF], n=300, seed=9)
    second = _ino(spare_path(paths.serving))
    publish(paths, AS_OF, PASSED)
    assert _ino(paths.serving) == second


def test_publish_writes_a_period_table_whole_when_its_columns_change(tmp_path):
    paths = build_home(tmp_path / "home", AS_OF)
    publish(paths, AS_OF, PASSED)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("alter table marts.client_tiers add column risk_note varchar")
        con.execute("update marts.client_tiers set risk_note = '关注'")
    publish(paths, AS_OF, PASSED)
    assert _serving_rows(paths.serving, "client_tiers") == _masked_build_rows(paths,
                                                                             "client_tiers")


def test_publish_keeps_the_last_exports_only(tmp_path):
    from tiering.publish import KEEP_EXPORTS
    paths = build_home(tmp_path / "home", AS_OF)
    for _ in range(KEEP_EXPORTS + 2):
        last = publish(paths, AS_OF, PASSED)
    kept = sorted(int(p.name) for p in paths.exports.iterdir())
    assert kept == list(range(last.version - KEEP_EXPORTS + 1, last.version + 1))


def test_masking_judges_numbered_columns_by_their_name():
    """reason_code_1 is a code and reason_label_2 a label (copied as they are, no regular
    expressions over 150M tier rows); free text stays scanned, numbered or not."""
    from tiering.publish import masking_expression
    assert masking_expression("reason_code_1", "VARCHAR") is None
    assert masking_expression("reason_label_3", "VARCHAR") is None
    assert masking_expression("client_key", "VARCHAR") is None
    assert "regexp_replace" in masking_expression("override_reason", "VARCHAR")
    assert "regexp_replace" in masking_expression("note_2", "VARCHAR")
    assert "repeat('*'" in masking_expression("contact_name", "VARCHAR")
    assert masking_expression("composite_score", "DOUBLE") is None


def test_publish_writes_the_marts_descriptions_as_comments(tmp_path):
    """dbt's descriptions of the marts (mart_docs of the manifest) become DuckDB comments on the
    serving tables, their columns and the unqualified views BI tools read; a described column
    the mart lacks is skipped, a model outside schema marts is not a mart. The comments are
    written again into a reused file (the spare or a copy) at every publish."""
    from tiering.publish import mart_docs

    paths = build_home(tmp_path / "home", AS_OF)
    manifest = {"nodes": {
        "model.tiering.dim_clients": {
            "resource_type": "model", "schema": "marts", "alias": "dim_clients",
            "description": "One row per client:\n  the golden record.",
            "columns": {"client_key": {"description": "The client's stable key."},
                        "CONTACT_PHONE": {"description": "Main contact's phone (masked)."},
                        "no_such_column": {"description": "Renamed away."},
                        "uscc": {"description": "  "}}},
        "model.tiering.stg_crm__clients": {
            "resource_type": "model", "schema": "staging", "alias": "stg_crm__clients",
            "description": "Not a mart.", "columns": {}},
        "test.tiering.not_null_x": {"resource_type": "test", "schema": "marts", "alias": "x"}}}
    docs = mart_docs(manifest)
    assert set(docs) == {"dim_clients"}
    assert docs["dim_clients"].description == "One row per client: the golden record."
    for _ in range(3):  # a new file, then reused versions
        publish(paths, AS_OF, PASSED, docs=docs)
        with duckdb.connect(str(paths.serving), read_only=True) as con:
            tables = dict(con.execute(
                "select schema_name, comment from duckdb_tables() "
                "where table_name = 'dim_clients'").fetchall())
            views = dict(con.execute(
                "select schema_name, comment from duckdb_views() "
                "where view_name = 'dim_clients'").fetchall())
            columns = {(schema, column): comment for schema, column, comment in con.execute(
                "select schema_name, column_name, comment from duckdb_columns() "
                "where table_name = 'dim_clients' and comment is not null").fetchall()}
        assert tables == {"marts": "One row per client: the golden record."}
        assert views == {"main": "One row per client: the golden record."}
        assert columns == {(schema, column): text for schema in ("marts", "main")
                           for column, text in (("client_key", "The client's stable key."),
                                                ("contact_phone", "Main contact's phone (masked)."))}
    # publish's own tables are described too, every column
    with duckdb.connect(str(paths.serving), read_only=True) as con:
        own = con.execute("""
            select table_name, count(*), count(comment) from duckdb_columns()
            where schema_name = 'main' and table_name in ('publish_log', 'quality_results')
            group by 1 order by 1""").fetchall()
        described = con.execute("""
            select count(*) from duckdb_tables() where schema_name = 'main'
              and table_name in ('publish_log', 'quality_results') and comment is not null
            """).fetchone()[0]
    assert [(table, total == commented) for table, total, commented in own] == [
        ("publish_log", True), ("quality_results", True)], own
    assert described == 2
