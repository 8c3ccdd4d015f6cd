"""Great Expectations gates (tiering.quality) on small self-built warehouses: they pass on good
data and fail, naming the expectation, on bad data."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pub_fixtures import build_home, make_uscc, write_dynamics_marts, write_ingestion_log
from tiering.quality import blocking_failures, data_docs_index, period_of, run_layer, uscc_is_valid

AS_OF = date(2026, 10, 31)


@pytest.fixture(autouse=True)
def _gx_scratch(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TIERING_GX_UNCOMMITTED", str(tmp_path_factory.getbasetemp() / "gx"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    paths = build_home(tmp_path_factory.mktemp("good"), AS_OF,
                       periods=[date(2026, 9, 30), AS_OF])
    write_dynamics_marts(paths, AS_OF, date(2026, 9, 30))
    return paths


@pytest.fixture()
def no_project(tmp_path) -> Path:
    """A dbt project that defines no model: missing tables are 'not yet expected'."""
    (tmp_path / "proj" / "models").mkdir(parents=True)
    return tmp_path / "proj"


def failed(results, suite):
    return [r for r in results if r.suite == suite and not r.success]


def test_uscc_validity_vectorised():
    good_code = make_uscc(42)
    transposed = good_code[:3] + good_code[4] + good_code[3] + good_code[5:]
    values = pa.array([good_code, good_code.lower(), f" {good_code[:6]}-{good_code[6:]}",
                       transposed, "110108123456789", None, "91350100M000100Y43"])
    assert uscc_is_valid(values).to_pylist() == [True, True, True, False, False, None, True]


def test_period_of():
    assert period_of(date(2026, 10, 31)) == date(2026, 10, 31)
    assert period_of(date(2026, 11, 15)) == date(2026, 10, 31)


def test_all_layers_pass_on_good_data(good, no_project):
    for layer in ("raw", "unified", "marts"):
        results = run_layer(layer, good, AS_OF, project_dir=no_project)
        assert results, layer
        assert not [r.describe() for r in results if not r.success], layer
        assert not [r for r in results if r.skipped], layer
    assert data_docs_index().exists()


def test_duplicated_tier_row_fails_marts_naming_the_expectation(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF, duplicate_tier_row=True)
    results = run_layer("marts", paths, AS_OF, project_dir=no_project)
    bad = blocking_failures(results)
    grain = [r for r in bad if r.suite == "marts.client_tiers"]
    assert [r.expectation for r in grain] == [
        "expect_compound_columns_to_be_unique(client_key,period_date,profile_code)"]
    assert "2 of 201 rows unexpected [profile_code=default]" in grain[0].message


def test_score_out_of_range_names_the_column(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("update marts.client_tiers set loyalty_score = 140 where client_key = 'C000003'")
    bad = blocking_failures(run_layer("marts", paths, AS_OF, project_dir=no_project))
    assert [r.suite for r in bad] == ["marts.client_tier_scores"]
    assert "loyalty_score: 2 rows outside 0-100" in bad[0].message  # two profiles


def test_rejected_delivery_and_stale_department_fail_raw(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF)
    rows = [{"department": d, "extract_date": AS_OF, "status": "loaded", "message": None,
             "files": 1, "rows_expected": 200, "rows_loaded": 200, "rows_quarantined": 0,
             "logged_at": datetime(2026, 11, 1)} for d in ("crm", "risk", "projects", "service",
                                                           "external")]
    rows.append({"department": "finance", "extract_date": AS_OF, "status": "rejected",
                 "message": "receipts.csv: manifest 200 rows, found 199", "files": 3,
                 "rows_expected": 200, "rows_loaded": 0, "rows_quarantined": 0,
                 "logged_at": datetime(2026, 11, 1)})
    write_ingestion_log(paths, rows)
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    bad = {(r.suite, r.expectation): r for r in blocking_failures(results)}
    assert set(bad) == {("raw.deliveries", "expect_column_values_to_be_null(not_loaded)"),
                        ("raw.freshness", "expect_column_values_to_be_null(stale_department)")}
    assert "finance 2026-10-31: rejected (receipts.csv: manifest 200 rows, found 199)" in \
        bad[("raw.deliveries", "expect_column_values_to_be_null(not_loaded)")].message


def test_an_earlier_rejected_delivery_warns_but_does_not_block(tmp_path, no_project):
    """A broken delivery months ago must not stop every later refresh: the snapshot's next
    delivery replaced it. Only the as-of period's own deliveries block."""
    paths = build_home(tmp_path / "home", AS_OF)
    earlier = date(2026, 8, 31)
    rows = [{"department": d, "extract_date": AS_OF, "status": "loaded", "message": None,
             "files": 1, "rows_expected": 200, "rows_loaded": 200, "rows_quarantined": 0,
             "logged_at": datetime(2026, 11, 1)}
            for d in ("crm", "finance", "risk", "projects", "service", "external")]
    rows.append({"department": "finance", "extract_date": earlier, "status": "rejected",
                 "message": "receipts.csv: manifest 200 rows, found 199", "files": 3,
                 "rows_expected": 200, "rows_loaded": 0, "rows_quarantined": 0,
                 "logged_at": datetime(2026, 9, 1)})
    write_ingestion_log(paths, rows)
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    assert not [r for r in blocking_failures(results) if r.suite == "raw.deliveries"]
    warned = [r for r in results if r.suite == "raw.deliveries" and not r.success]
    assert [r.expectation for r in warned] == [
        "expect_column_values_to_be_null(earlier_not_loaded)"]
    assert "finance 2026-08-31: rejected" in warned[0].message


def test_raw_value_problems(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF)
    clients = paths.raw / "crm" / "clients" / f"{AS_OF}.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select * replace (case when _row_number <= 100 then 'garbage' "
                    f"else uscc end as uscc, case when _row_number = 1 then null else crm_id end "
                    f"as crm_id) from read_parquet('{clients}')) to '{tmp_path}/c.parquet'")
    (tmp_path / "c.parquet").replace(clients)
    bad = {r.expectation: r for r in failed(run_layer("raw", paths, AS_OF,
                                                       project_dir=no_project), "raw.crm.clients")}
    # a low USCC validity rate is reported, not a reason to stop publishing
    assert not bad["expect_column_values_to_be_in_set(uscc_is_valid)"].blocking
    assert bad["expect_column_values_to_not_be_null(crm_id)"].blocking


def test_rows_without_a_name_warn_until_the_export_lost_its_names(tmp_path, no_project):
    """A crm row without a name is still placed by its USCC: a few are reported with their
    keys; more than 5 % stop the refresh."""
    paths = build_home(tmp_path / "home", AS_OF)
    clients = paths.raw / "crm" / "clients" / f"{AS_OF}.parquet"
    original = tmp_path / "original.parquet"
    clients.replace(original)
    for share, blocking in ((0.03, False), (0.10, True)):
        with duckdb.connect() as con:
            total = con.execute(f"select count(*) from read_parquet('{original}')").fetchone()[0]
            con.execute(f"copy (select * replace (case when _row_number <= {int(total * share)} "
                        f"then null else client_name end as client_name) "
                        f"from read_parquet('{original}')) to '{clients}'")
        bad = {r.expectation: r for r in failed(run_layer("raw", paths, AS_OF,
                                                           project_dir=no_project),
                                                "raw.crm.clients")}
        assert not bad["expect_column_values_to_be_null(crm_id_without_name)"].blocking
        assert "CRM" in bad["expect_column_values_to_be_null(crm_id_without_name)"].message
        assert ("expect_column_values_to_not_be_null(client_name)" in bad) == blocking

def test_a_key_delivered_twice_warns_without_blocking(tmp_path, no_project):
    """Staging keeps the later of a key's rows in a delivery, so a repeated line is reported,
    not a reason to stop publishing."""
    paths = build_home(tmp_path / "home", AS_OF)
    clients = paths.raw / "crm" / "clients" / f"{AS_OF}.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_parquet('{clients}') union all "
                    f"select * replace (_row_number + 1000 as _row_number) "
                    f"from read_parquet('{clients}') where _row_number = 3) "
                    f"to '{tmp_path}/c.parquet'")
    (tmp_path / "c.parquet").replace(clients)
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    bad = {r.expectation: r for r in failed(results, "raw.crm.clients")}
    assert list(bad) == ["expect_column_values_to_be_unique(crm_id)"]
    assert not bad["expect_column_values_to_be_unique(crm_id)"].blocking
    assert not blocking_failures(results)


def test_clients_without_a_name_warn_until_they_are_more_than_one_percent(tmp_path, no_project):
    """A client known only by records delivered without a name has none: reported; more than 1 %
    of clients without a name (a department's names went missing) stops the publish."""
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        total = con.execute("select count(*) from marts.dim_clients").fetchone()[0]
        con.execute("update marts.dim_clients set registered_name = null where client_key in "
                    "(select client_key from marts.dim_clients order by client_key limit 1)")
    results = run_layer("unified", paths, AS_OF, project_dir=no_project)
    [nameless] = failed(results, "unified.dim_clients")
    assert nameless.expectation == "expect_column_values_to_be_null(client_without_name)"
    assert not nameless.blocking and "1 of 200 rows" in nameless.message
    assert not blocking_failures(results)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute(f"update marts.dim_clients set registered_name = null where client_key in "
                    f"(select client_key from marts.dim_clients order by client_key "
                    f"limit {total // 50})")
    bad = blocking_failures(run_layer("unified", paths, AS_OF, project_dir=no_project))
    assert [(r.suite, r.expectation) for r in bad] == [
        ("unified.dim_clients", "expect_column_values_to_not_be_null(registered_name)")]

def test_amounts_parse_as_staging_reads_them(tmp_path, no_project):
    """The receipts gate reads amounts with staging's rules (parse_number): full-width digits,
    accounting brackets and padded text pass; text that is no number still blocks."""
    paths = build_home(tmp_path / "home", AS_OF)
    receipts = paths.raw / "finance" / "receipts" / f"{AS_OF}.parquet"
    formats = ("['１，２３４．５０', '(1,234.00)', ' 12.5 ', '￥1,234元', '1，234.5', '1,234.50-', "
               "'−1,234.50', 'RMB 1,234.50', '-¥1,234.50']")
    with duckdb.connect() as con:
        con.execute(f"copy (select * replace ({formats}[_row_number % 9 + 1] as amount) "
                    f"from read_parquet('{receipts}')) to '{tmp_path}/r.parquet'")
        (tmp_path / "r.parquet").replace(receipts)
        assert not failed(run_layer("raw", paths, AS_OF, project_dir=no_project),
                          "raw.finance.receipts")
        con.execute(f"copy (select * replace (case when _row_number <= 10 then '待核实' "
                    f"else amount end as amount) from read_parquet('{receipts}')) "
                    f"to '{tmp_path}/r.parquet'")
    (tmp_path / "r.parquet").replace(receipts)
    bad = {r.expectation: r for r in failed(run_layer("raw", paths, AS_OF,
                                                       project_dir=no_project),
                                            "raw.finance.receipts")}
    assert bad["expect_column_values_to_not_be_null(amount_parsed)"].blocking


def test_codes_and_flags_are_checked_as_staging_reads_them(tmp_path, no_project):
    """A department that pads or widens every code (` 在建 `, `ＡＡ`, lower-case ratings) or ticks
    its flags (`√`) delivers what staging reads (clean_code, parse_boolean): the gates pass it.
    A code outside the contract still blocks, a flag nobody can read still warns."""
    from tiering.quality import BOOLEAN_FALSE, BOOLEAN_TRUE

    paths = build_home(tmp_path / "home", AS_OF)
    credit = paths.raw / "risk" / "credit_profiles" / f"{AS_OF}.parquet"
    clients = paths.raw / "crm" / "clients" / f"{AS_OF}.parquet"

    def rewrite(path: Path, replace: str) -> None:
        with duckdb.connect() as con:
            con.execute(f"copy (select * replace ({replace}) from read_parquet('{path}')) "
                        f"to '{tmp_path}/x.parquet'")
        (tmp_path / "x.parquet").replace(path)

    rewrite(credit, "'　' || lower(internal_rating) || ' ' as internal_rating, "
                    "case when _row_number % 2 = 0 then '√' else '×' end as on_watchlist")
    rewrite(clients, "' ' || client_type || '　' as client_type, "
                     "case when _row_number % 2 = 0 then '✓' else 'n' end as listed")
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    assert not failed(results, "raw.risk.credit_profiles")
    assert not failed(results, "raw.crm.clients")

    rewrite(credit, "case when _row_number <= 20 then 'AA+' else internal_rating end "
                    "as internal_rating, case when _row_number <= 20 then '可能' "
                    "else on_watchlist end as on_watchlist")
    bad = {r.expectation: r for r in failed(run_layer("raw", paths, AS_OF,
                                                       project_dir=no_project),
                                            "raw.risk.credit_profiles")}
    assert bad["expect_column_values_to_be_in_set(internal_rating)"].blocking
    assert not bad["expect_column_values_to_be_in_set(on_watchlist)"].blocking
    # the gates read flags with staging's words
    macro = (Path(__file__).parent.parent / "macros/cleaning/numbers.sql").read_text()
    for words, truth in ((BOOLEAN_TRUE, "true"), (BOOLEAN_FALSE, "false")):
        listed = ", ".join(f"'{w}'" for w in words)
        assert f"in ({listed})\n            then {truth}" in macro


def test_dates_are_checked_as_staging_reads_them(tmp_path, no_project):
    """Every date form ingestion accepts (dots, compact, 年月日, an Excel serial, a time after it)
    is a date to the gates too, so a legitimate form raises no warning; a date after the as-of
    date still does, and an impossible one is no date."""
    from tiering.quality import date_values

    assert date_values(pa.array(["2024.3.5", "20240305", "45356.5", "2024年3月5日 10:00",
                                 "2024-03-05T01:15:00Z", "２０２４／３／５", "2024-02-30", "",
                                 None])).to_pylist() == [date(2024, 3, 5)] * 6 + [None] * 3
    paths = build_home(tmp_path / "home", AS_OF)
    receipts = paths.raw / "finance" / "receipts" / f"{AS_OF}.parquet"
    clients = paths.raw / "crm" / "clients" / f"{AS_OF}.parquet"
    day = AS_OF.strftime("%Y%m%d")
    forms = (f"['{AS_OF:%Y.%m.%d}', '{day}', '{AS_OF:%Y}年{AS_OF.month}月{AS_OF.day}日', "
             f"'{(AS_OF - date(1899, 12, 30)).days}']")
    with duckdb.connect() as con:
        con.execute(f"copy (select * replace ({forms}[_row_number % 4 + 1] as receipt_date) "
                    f"from read_parquet('{receipts}')) to '{tmp_path}/r.parquet'")
        con.execute(f"copy (select * replace (case when _row_number <= 10 then '2099-01-01' "
                    f"else '{AS_OF:%Y/%m/%d} 9:30' end as created_at) "
                    f"from read_parquet('{clients}')) to '{tmp_path}/c.parquet'")
    (tmp_path / "r.parquet").replace(receipts)
    (tmp_path / "c.parquet").replace(clients)
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    assert not failed(results, "raw.finance.receipts")
    [future] = failed(results, "raw.crm.clients")
    assert future.expectation == "expect_column_values_to_be_between(created_days_after_as_of)"
    assert future.message.startswith("10 of ") and not future.blocking


def test_missing_table_skipped_until_expected(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("drop table marts.long_tail_clients")
    results = run_layer("marts", paths, AS_OF, project_dir=no_project)
    skipped = [r for r in results if r.suite == "marts.long_tail_clients"]
    assert len(skipped) == 1 and skipped[0].skipped and skipped[0].success
    assert not skipped[0].blocking and skipped[0].message.startswith("skipped: table")
    # Once the dbt project defines the model, its absence is a blocking failure.
    (no_project / "models" / "long_tail_clients.sql").write_text("select 1")
    results = run_layer("marts", paths, AS_OF, project_dir=no_project)
    bad = blocking_failures(results)
    assert [(r.suite, r.expectation) for r in bad] == [("marts.long_tail_clients", "input_exists")]
    assert "defined in the dbt project" in bad[0].message


def test_xref_must_cover_every_identity_record(tmp_path, no_project):
    paths = build_home(tmp_path / "home", AS_OF)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("delete from marts.client_source_xref where record_id = 'CRM000007'")
    bad = blocking_failures(run_layer("unified", paths, AS_OF, project_dir=no_project))
    assert [r.suite for r in bad] == ["unified.xref_coverage"]
    assert "crm/clients CRM000007" in bad[0].message


def test_validation_results_are_pruned_with_their_pages(tmp_path, monkeypatch):
    from tiering.quality import prune_validation_results

    root = tmp_path / "gx"
    monkeypatch.setenv("TIERING_GX_UNCOMMITTED", str(root))
    for suite in ("raw/crm/clients", "marts/client_tiers"):
        for run in ("20261101T010000.000000Z", "20261102T010000.000000Z",
                    "20261103T010000.000000Z"):
            for tree, suffix in (("validations", "json"),
                                 ("data_docs/local_site/validations", "html")):
                folder = root / tree / suite / "__none__" / run
                folder.mkdir(parents=True)
                (folder / f"tiering_duckdb_frames-x.{suffix}").write_text("{}")
    assert prune_validation_results(keep=2) == 2
    left = sorted(p.relative_to(root).as_posix() for p in root.glob("**/*") if p.is_file())
    assert len(left) == 8 and not [p for p in left if "20261101" in p]


def test_python_side_duckdb_has_its_own_memory_limit(tmp_path, monkeypatch):
    """The gates' DuckDB (like publish, the risk model and the report) is limited by
    TIERING_DUCKDB_PYTHON_MEMORY, not left at DuckDB's default of 80% of the RAM."""
    from tiering.config import Paths
    from tiering.quality import Inputs

    monkeypatch.setenv("TIERING_DUCKDB_PYTHON_MEMORY", "1GB")
    inputs = Inputs(Paths(home=tmp_path), date(2026, 10, 31))
    limit = inputs.con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit in ("1GB", "953.6 MiB", "1.0 GiB"), limit
    monkeypatch.delenv("TIERING_DUCKDB_PYTHON_MEMORY")
    inputs = Inputs(Paths(home=tmp_path), date(2026, 10, 31))
    limit = inputs.con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit in ("4GB", "3.7 GiB", "3.7 GB"), limit


def test_gates_hold_one_chunk_at_a_time_and_keep_no_frames(good, no_project, monkeypatch):
    """A chunked suite reads its next chunk only after the previous one was validated, and no
    validated DataFrame outlives the gate (GX's execution engine caches the last batch of every
    asset: at 1M clients the unified gate kept 1.3 GB of frames in the refresh process)."""
    import gc

    import pandas as pd

    from tiering import quality

    alive_at_read: list[int] = []
    columns_read: list[set[str]] = []
    frames = quality.Inputs.frames

    def counting_frames(self, sql, chunk_by, materialize=False):
        for chunk, frame in frames(self, sql, chunk_by, materialize):
            columns_read.append(set(frame.columns))
            gc.collect()
            alive_at_read.append(sum(isinstance(o, pd.DataFrame) and len(o) and "profile_code"
                                     in o.columns for o in gc.get_objects()))
            yield chunk, frame

    monkeypatch.setattr(quality.Inputs, "frames", counting_frames)
    results = run_layer("marts", good, AS_OF, project_dir=no_project, docs="on_failure")
    assert results and not [r.describe() for r in results if not r.success]
    # only the columns the expectations name reach pandas (client_tiers_current's query is
    # `select *` of the mart; its suite checks two columns)
    assert {"client_key", "profile_code"} in columns_read, columns_read
    assert all(len(c) <= 6 for c in columns_read), columns_read
    # client_tiers is chunked by profile: when a chunk is read, the one before is gone
    assert len(alive_at_read) > 3 and max(alive_at_read) == 1, alive_at_read
    gc.collect()
    assert not [o.shape for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o)]


def test_materialized_suite_runs_its_query_once(tmp_path):
    """A chunked suite marked `materialize` (the crosswalk's coverage, whose query scans the raw
    layer) runs its query once into a temporary table and reads its chunks from it, where it
    otherwise runs once for the chunk values and once per chunk; the chunks are the same, and
    the temporary table is dropped afterwards."""
    from tiering.config import Paths
    from tiering.quality import Inputs

    class Logging:
        """The connection, recording every statement it is given."""

        def __init__(self, con):
            self.con, self.executed = con, []

        def execute(self, sql, *args):
            self.executed.append(sql)
            return self.con.execute(sql, *args)

    inputs = Inputs(Paths(home=tmp_path), date(2026, 10, 31))
    inputs.con.execute("create table t as select * from (values ('a', 1), ('a', 2), ('b', 3), "
                       "(null, 4)) as v(k, x)")
    query = "select k, x from t where x > 0"
    logging = inputs.con = Logging(inputs.con)
    runs, chunks = {}, {}
    for materialize in (False, True):
        logging.executed.clear()
        chunks[materialize] = [(chunk, frame.to_dict("list"))
                               for chunk, frame in inputs.frames(query, "k", materialize)]
        runs[materialize] = sum(query in sql for sql in logging.executed)
    assert chunks[True] == chunks[False]
    assert [c for c, _ in chunks[True]] == ["k=a", "k=b", "k=None"]
    assert chunks[True][0][1] == {"k": ["a", "a"], "x": [1, 2]}
    assert runs == {False: 4, True: 1}  # the chunk values and three chunks, or once
    assert logging.con.execute("select count(*) from duckdb_tables() "
                               "where table_name = 'suite_input'").fetchone()[0] == 0


def test_projection_keeps_what_an_expectation_must_see():
    """A suite is narrowed to its named columns only when every expectation names its columns or
    counts rows; a table-level column expectation or a row condition keeps the whole query."""
    import great_expectations as gx

    from tiering.quality import _projected

    def suite(*expectations):
        return gx.ExpectationSuite(name="s", expectations=list(expectations))

    sql = "select * from t"
    narrowed = _projected(sql, suite(
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="a"),
        gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["a", "b"])), "c")
    assert narrowed == 'select "a", "b", "c" from (select * from t) as suite_input'
    assert _projected(sql, suite(
        gx.expectations.ExpectColumnValuesToNotBeNull(column="a"),
        gx.expectations.ExpectTableColumnsToMatchSet(column_set=["a", "b"])), None) == sql
    assert _projected(sql, suite(gx.expectations.ExpectColumnValuesToNotBeNull(
        column="a", row_condition='b > 0', condition_parser="pandas")), None) == sql
    assert _projected(sql, suite(
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=1)), None) == sql


def test_a_month_without_new_receipts_warns_without_blocking(tmp_path, no_project):
    """Receipts are incremental: a delivery holds only the month's new rows, and a month may
    have none (an empty file loads as 0 rows, tests/test_ingest.py). Snapshots still block."""
    paths = build_home(tmp_path / "home", AS_OF)
    receipts = paths.raw / "finance" / "receipts" / f"{AS_OF}.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_parquet('{receipts}') limit 0) "
                    f"to '{tmp_path}/r.parquet'")
    (tmp_path / "r.parquet").replace(receipts)
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    [empty] = [r for r in failed(results, "raw.finance.receipts")
               if r.expectation.startswith("expect_table_row_count_to_be_between")]
    assert not empty.blocking
    assert not blocking_failures(results)
    customers = paths.raw / "finance" / "customers" / f"{AS_OF}.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_parquet('{customers}') limit 0) "
                    f"to '{tmp_path}/c.parquet'")
    (tmp_path / "c.parquet").replace(customers)
    bad = blocking_failures(run_layer("raw", paths, AS_OF, project_dir=no_project))
    assert any(r.suite == "raw.finance.customers" for r in bad)


def test_every_month_a_refresh_ingests_is_gated_not_only_the_newest(tmp_path, no_project):
    """A refresh that ingests several months (a first refresh, or one catching up) gates every
    month of an incremental entity: a month of receipts in a unit nobody knows blocks although
    the newest month is clean (before 2026-12-07 only the newest delivery was read). A key
    delivered again in a later month is a correction: it counts once. Once a refresh as of a
    month has passed the gates, the next one gates only the months after it."""
    from orchestration.state import write_state

    paths = build_home(tmp_path / "home", AS_OF)
    folder = paths.raw / "finance" / "receipts"
    september = date(2026, 9, 30)
    newest = folder / f"{AS_OF}.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * replace ('S' || voucher_no as voucher_no, '美元' as unit, "
            f"date '{september}' as _extract_date) from read_parquet('{newest}') "
            f"union all by name select * replace (date '{september}' as _extract_date) "
            f"from (select * from read_parquet('{newest}') limit 1)) "
            f"to '{folder / f'{september}.parquet'}'")
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    bad = {r.expectation: r for r in failed(results, "raw.finance.receipts")}
    assert bad["expect_column_values_to_be_in_set(unit)"].blocking
    assert "expect_column_values_to_be_unique(voucher_no)" not in bad
    write_state(paths.state / "last_refresh.json", {"as_of_date": september.isoformat()})
    results = run_layer("raw", paths, AS_OF, project_dir=no_project)
    assert not failed(results, "raw.finance.receipts")
