"""Deliveries that follow the contract but were not written by our simulator.

`tiering.testing.variants` writes a landing zone from the contract alone: other company names,
cities (many missing from the big-city list the cleaning seeds started with), people and rates,
and the contract's mess in other flavours (CRLF, BOMs where unexpected and missing where
expected, shuffled and extra columns, a trailing delimiter, quoted newlines, GBK labelled GB2312,
JSON numbers as strings, \\u escapes, nulls vs missing keys, Parquet dates as instants, decimals,
NaN counts, ...), rows broken on purpose, a delivery with a wrong manifest count and one still
being written; crm, risk and service cut a month ending on a weekend on the Friday before. It is ingested, built with dbt (everything up to the risk model), gated with Great
Expectations, and checked against the generator's truth. docs/robustness.md has the figures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dbt_cli import run_dbt

from tiering.config import Paths
from tiering.contract import ENTITIES
from tiering.testing import variant_checks as checks

PROJECT_DIR = Path(__file__).resolve().parent.parent
COMPANIES, MONTHS, START, SEED = 400, 3, "2025-10", 20261202
AS_OF = date(2025, 12, 31)
BAD_MONTH = date(2025, 11, 30)  # finance's delivery of this month claims 3 receipts too many
PRECISION_FLOOR, RECALL_FLOOR = 0.98, 0.94  # identity on variants (measured: docs/robustness.md)
PARSE_NULL_TOLERANCE = 0.001


def _dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    # the as-of date as `tiering` gives it (macros/as_of_date.sql): seed and build share the
    # vars, so the build starts from the seed's parse instead of parsing the project again
    env = dict(os.environ, TIERING_AS_OF_DATE=AS_OF.isoformat())
    env.pop("TIERING_LANDING_DIR", None)
    return run_dbt(home, *args, env=env)


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Generate, ingest, `dbt build` (up to the risk model, no unit tests: those run in
    test_staging / test_identity / test_tiering), then the raw and unified gates."""
    from tiering.ingest import ingest
    from tiering.quality import run_layer
    from tiering.testing.variants import generate

    home = tmp_path_factory.mktemp("variant_home")
    paths = Paths(home=home)
    summary = generate(home / "landing", home / "truth", COMPANIES, MONTHS, START, SEED,
                       business_day_cuts=True)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("TIERING_LANDING_DIR", raising=False)
        env.setenv("TIERING_HOME", str(home))
        env.setenv("TIERING_GX_UNCOMMITTED", str(home / "gx"))
        ingested = ingest(paths)
        seed = _dbt(home, "seed")
        assert seed.returncode == 0, seed.stdout[-3000:]
        build = _dbt(home, "build", "--exclude", "tag:after_risk_model",
                     "--exclude-resource-type", "unit_test")
        gates = {layer: run_layer(layer, paths, AS_OF, docs="on_failure")
                 for layer in ("raw", "unified")}
        gates["raw_bad_month"] = run_layer("raw", paths, BAD_MONTH, docs="on_failure")
    return {"home": home, "paths": paths, "summary": summary, "ingested": ingested,
            "build": build, "gates": gates}


# --- ingestion -----------------------------------------------------------------------------
def test_every_delivery_has_the_outcome_the_contract_asks_for(variant: dict) -> None:
    got = {(r.department, r.extract_date.isoformat()): r for r in variant["ingested"].results}
    for expected in variant["summary"].deliveries:
        result = got[(expected["department"], expected["extract_date"])]
        assert result.status == expected["status"], (expected, result)
        assert expected["message"] in result.message, (expected, result.message)
    statuses = [r.status for r in got.values()]
    assert statuses.count("rejected") == 1 and statuses.count("pending") == 1
    # the projects' last month saved as PROJECTS.CSV and Participations.csv: read as its files
    projects = got[("projects", AS_OF.isoformat())]
    assert projects.status == "loaded" and projects.files == 2, projects
    assert {"PROJECTS.CSV read as projects.csv",
            "Participations.csv read as participations.csv"} <= set(projects.warnings)


def test_every_delivered_row_is_loaded_or_quarantined(variant: dict) -> None:
    """For every file of every loaded delivery: loaded + quarantined = manifest rows."""
    balance = checks.row_balance(variant["home"], variant["summary"].deliveries)
    assert [b for b in balance if b[1] != b[2] + b[3]] == []
    assert len(balance) == 27  # 17 loaded deliveries of 1 to 3 files


def test_quarantine_holds_exactly_the_rows_broken_on_purpose(variant: dict) -> None:
    """Every legitimate flavour loads; every broken row is quarantined with a reason that names
    file, row and (where one is at fault) field."""
    with checks.connect(variant["home"]) as con:
        unexpected, missed = checks.quarantine_diff(con, AS_OF)
        kinds = con.execute(f"select flavour, count(*) from expected_quarantine "
                            f"where {checks.loaded(AS_OF)} group by 1 order by 1").fetchall()
    assert not unexpected, f"legitimate rows quarantined: {unexpected[:10]}"
    assert not missed, f"broken rows not quarantined as they should be: {missed[:10]}"
    assert {k for k, _ in kinds} >= {"undecodable", "extra_column", "few_columns", "truncated",
                                     "array", "blank_key", "bad_number", "bad_date"}, kinds


def test_raw_layer_keeps_what_was_delivered(variant: dict) -> None:
    home = variant["home"]
    with duckdb.connect() as con:
        extra: set[str] = set()
        for ent in ENTITIES:
            for file in (home / "raw" / ent.department / ent.name).glob("20*.parquet"):
                columns = con.sql(f"select * from '{file}' limit 0").columns
                assert columns[:len(ent.columns)] == list(ent.columns), file
                assert all(c and not c.startswith("\ufeff") and not c.startswith("_column_")
                           for c in columns), (file, columns)
                extra |= set(columns[len(ent.columns):]) - {"_department", "_entity",
                                                             "_extract_date", "_source_file",
                                                             "_row_number", "_loaded_at"}
    # names with spaces and punctuation are kept as delivered (Spark reads them too)
    assert extra == {"微信号 (WeChat)", "摘要", "source system", "agent_id", "data_source; v2"}
    with duckdb.connect() as con:
        multi_line = con.execute(
            f"select count(*) from read_parquet('{home / 'raw' / 'crm' / 'clients'}/*.parquet') "
            f"where industry like '%\n（重点客户）'").fetchone()[0]
    assert multi_line > 0  # a quoted newline is kept inside its value


# --- staging -------------------------------------------------------------------------------
def test_staging_parses_every_delivered_format(variant: dict) -> None:
    """Each delivered phone, date, timestamp, amount, integer and boolean (truth: what it must
    become) is parsed to that value; NULLs where a value was delivered stay under a tiny
    tolerance and no value is parsed wrong."""
    with checks.connect(variant["home"]) as con:
        parsed = checks.parse_summary(con, AS_OF)
    total, nulls, wrong = parsed["values"], parsed["null"], parsed["wrong"]
    assert total > 15_000 and parsed["flavours"] >= 55, parsed
    assert nulls <= PARSE_NULL_TOLERANCE * total and wrong == 0, (
        f"{nulls} NULL and {wrong} wrong of {total} delivered values: {parsed['examples']}")
    # every delivered value of a snapshot entity reaches staging (incremental entities keep the
    # latest version of each key)
    assert not parsed["snapshot_values_missing"], parsed["snapshot_values_missing"]


# --- identity ------------------------------------------------------------------------------
def test_every_identity_record_has_exactly_one_client(variant: dict) -> None:
    with checks.connect(variant["home"]) as con:
        found = checks.identity_coverage(con)
    assert found["xref_rows"] == found["xref_keys"] == found["with_client"] > 0
    assert not found["missing"], f"truth records without a client: {found['missing'][:10]}"
    assert found["xref_rows"] == found["truth"]  # nothing the truth does not know


def test_identity_quality_on_variants(variant: dict) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_identity", PROJECT_DIR / "benchmarks" / "bench_identity.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    home = variant["home"]
    result = bench.score(bench.load(home, home / "truth"))
    figures = (f"precision {result['precision']:.3f}, recall {result['recall']:.3f} over "
               f"{result['records']} records; tickets {result['tickets']}")
    print(f"\nidentity on variants: {figures}")
    assert result["precision"] >= PRECISION_FLOOR, (figures, result["worst_false_merges"][:5])
    assert result["recall"] >= RECALL_FLOOR, (figures, result["worst_misses"][:5])


def test_every_department_meets_on_the_month_end_whatever_day_it_cut(variant: dict) -> None:
    """November 2025 ends on a Sunday: crm and risk (the departments whose deliveries define
    the periods) cut on Friday 2025-11-28, the others on the 30th. The features have one period
    per month, the month end, and in every one of them crm's and risk's snapshots meet the
    registry's."""
    landing = variant["home"] / "landing"
    assert (landing / "crm" / "2025-11-28" / "_manifest.json").exists()
    assert (landing / "external" / "2025-11-30" / "_manifest.json").exists()
    with duckdb.connect(str(variant["home"] / "warehouse.duckdb"), read_only=True) as con:
        periods = con.execute("""
            select period_date, count(*) filter (where has_credit_profile),
                   count(*) filter (where internal_rating_rank is not null),
                   count(*) filter (where has_registry),
                   count(*) filter (where listed_flag is not null)
            from intermediate.int_tiering_client_features_built
            group by period_date order by period_date""").fetchall()
        cut_on_friday = con.execute(
            "select count(*), count(distinct extract_date) from staging.stg_crm__clients "
            "where source_file like 'crm/2025-11-28/%'").fetchall()[0]
    assert [row[0] for row in periods] == [
        date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31)], periods
    for period, profiles, ratings, registry, listed in periods:
        assert min(profiles, ratings, registry, listed) > 0, (period, profiles, ratings,
                                                              registry, listed)
    assert cut_on_friday[0] > 0 and cut_on_friday[1] == 1, cut_on_friday


def test_a_rejected_snapshot_month_keeps_the_month_before(variant: dict) -> None:
    """Finance's 2025-11-30 delivery is rejected whole: as of November, finance's state is its
    newest delivery up to then, October's (tiering_parameters.snapshot_carry_forward_months),
    so every client's statement figures at November are October's, not missing."""
    with duckdb.connect(str(variant["home"] / "warehouse.duckdb"), read_only=True) as con:
        compared = con.execute(f"""
            select count(*), count(november.revenue_amount),
                   count(*) filter (where november.revenue_amount is distinct from
                                    october.revenue_amount
                                    or november.total_assets_amount is distinct from
                                    october.total_assets_amount)
            from intermediate.int_tiering_client_features_built as october
            inner join intermediate.int_tiering_client_features_built as november
                on october.client_key = november.client_key
                and november.period_date = date '{BAD_MONTH}'
            where october.period_date = date '2025-10-31'
                and october.revenue_amount is not null""").fetchall()[0]
    clients, carried, differ = compared
    assert clients > 20 and carried == clients and differ == 0, compared


def test_registry_lists_delivered_as_text_are_lists(variant: dict) -> None:
    """December's registry writes former names and memberships as text (one former name,
    memberships joined by 、): staging reads the same lists as from Parquet lists."""
    home = variant["home"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        con.execute(f"create temp view truth as select * from "
                    f"read_parquet('{home / 'truth' / 'companies.parquet'}')")
        counts = con.execute("""
            select count(*), count(*) filter (where registry.former_name_count = 1),
                   count(*) filter (where registry.association_count is null
                                    and registry.association_memberships_json is not null)
            from staging.stg_external__registry as registry
            inner join truth on truth.uscc = registry.uscc
            where registry.extract_date = date '2025-12-31'
                and truth.former_name is not null""").fetchall()[0]
        names = con.execute("""
            select count(*), count(*) filter (where former.former_name_raw = truth.former_name)
            from staging.stg_external__registry_former_names as former
            inner join truth on truth.uscc = former.uscc
            where former.extract_date = date '2025-12-31'""").fetchall()[0]
    assert counts[0] > 5 and counts[1] == counts[0] and counts[2] == 0, counts
    assert names[0] == counts[0] and names[1] == names[0], names


# --- dbt and the gates ---------------------------------------------------------------------
def test_dbt_build_passes(variant: dict) -> None:
    build = variant["build"]
    assert build.returncode == 0, build.stdout[-5000:]
    results = json.loads((variant["home"] / "target" / "run_results.json").read_text())
    statuses = {r["status"] for r in results["results"]}
    assert statuses <= {"success", "pass", "warn"}, [
        (r["unique_id"], r["status"], r.get("message")) for r in results["results"]
        if r["status"] not in ("success", "pass", "warn")][:10]
    # the line written twice in crm clients and in finance receipts, and a client type the
    # contract does not list: warnings, not a stop
    warned = sorted(r["unique_id"].split(".")[2] for r in results["results"]
                    if r["status"] == "warn")
    unique = "source_unique_combination_of_columns"
    assert len(warned) == 3 and warned[0].startswith("accepted_values_stg_crm__clients_client_type")
    assert warned[1:] == [f"{unique}_crm_clients_crm_id___extract_date",
                          f"{unique}_finance_receipts_voucher_no___extract_date"], warned
    assert len(results["results"]) > 200


def test_gates_pass_and_fail_only_for_the_broken_delivery(variant: dict) -> None:
    gates = variant["gates"]
    for layer in ("raw", "unified"):
        blocking = [r.describe() for r in gates[layer] if r.blocking and not r.success]
        assert not blocking, blocking
    warned = [r for r in gates["raw"] if not r.success]
    assert any(r.expectation == "expect_column_values_to_be_null(earlier_not_loaded)"
               and "finance 2025-11-30: rejected" in r.message for r in warned)
    # a line written twice in the last month: a warning, not a stop (staging keeps one row)
    assert {("raw.crm.clients", "expect_column_values_to_be_unique(crm_id)"),
            ("raw.finance.receipts", "expect_column_values_to_be_unique(voucher_no)")} <= {
        (r.suite, r.expectation) for r in warned}
    # as of the month of the broken delivery, publishing stops because of it, and only it
    blocking = [r for r in gates["raw_bad_month"] if r.blocking and not r.success]
    assert {(r.suite, r.expectation) for r in blocking} == {
        ("raw.deliveries", "expect_column_values_to_be_null(not_loaded)"),
        ("raw.freshness", "expect_column_values_to_be_null(stale_department)")}
    assert all("finance" in r.message for r in blocking)
    assert "receipts.csv: manifest says" in blocking[0].message + blocking[1].message


def test_mess_scale_multiplies_the_mess_and_nothing_else(tmp_path: Path) -> None:
    """`mess_scale` (benchmarks/bench_variants.py --mess-scale, docs/robustness.md "Other
    rates"): the same companies typed with three times the name and identifier mess (the
    draws that follow differ, so the records are about, not exactly, the same)."""
    from tiering.testing.variants import generate

    shares = {}
    for scale in (1.0, 3.0):
        out = tmp_path / str(scale)
        generate(out / "landing", out / "truth", 400, 1, START, SEED, bad_deliveries=False,
                 mess_scale=scale)
        shares[scale] = duckdb.sql(
            f"""select count(*),
                       avg(case when len(list_filter(string_split(mess, '+'), lambda k: k not in (
                           'clean', 'former', 'uscc_blank', 'uscc_legacy'))) > 0
                           then 1.0 else 0 end),
                       avg(case when mess like '%typo%' then 1.0 else 0 end),
                       avg(case when mess like '%former%' then 1.0 else 0 end)
                from '{out / "truth" / "source_records.parquet"}'
                where entity <> 'tickets'""").fetchall()[0] + (duckdb.sql(
            f"select list(name order by company_id) from '{out / 'truth' / 'companies.parquet'}'"
        ).fetchall()[0][0],)
    (records_1, messy_1, typo_1, former_1, companies_1), \
        (records_3, messy_3, typo_3, former_3, companies_3) = shares[1.0], shares[3.0]
    assert companies_1 == companies_3
    assert records_3 == pytest.approx(records_1, rel=0.02)
    assert messy_3 > 1.5 * messy_1 and typo_3 > typo_1, (messy_1, messy_3, typo_1, typo_3)
    assert former_3 == pytest.approx(former_1, abs=0.005)  # renames are not mess
