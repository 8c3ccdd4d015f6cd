"""Incremental staging by delivery (macros/cleaning/incremental_staging.sql, docs/standardisation.md
"Incremental by delivery"), on a small simulation ingested month by month: the staging tables
appended delivery by delivery equal a full refresh, and every case that must rebuild does (a past
month re-run, a re-delivered month, a changed macro), again equal to a full refresh; an append
reuses the stored cleaning of the names it already holds. The tests are steps of one history, in
order."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dbt_cli import run_dbt
from project_copy import copy_project

from tiering.config import PROJECT_DIR, Paths

MONTH_ENDS = [date(2024, 11, 30), date(2024, 12, 31), date(2025, 1, 31), date(2025, 2, 28)]
STAGING = "path:models/staging"


def dbt(home: Path, *args: str, as_of: date, project: Path = PROJECT_DIR,
        extra_vars: str = "") -> str:
    # the as-of date as `tiering` gives it (macros/as_of_date.sql): a new month reuses the parse
    env = {**os.environ, "TIERING_AS_OF_DATE": as_of.isoformat()}
    result = run_dbt(home, *args, "--vars", f"{{{extra_vars.lstrip(', ')}}}", project=project,
                     target_path=home / f"target-{project.name}", env=env)
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}"
    return result.stdout


def staging_tables(home: Path) -> list[str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return [row[0] for row in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'staging' "
            "and table_name like 'stg\\_%' escape '\\' order by 1").fetchall()]


def assert_equals_full_refresh(home: Path, as_of: date) -> None:
    """Copy the incrementally built warehouse, full-refresh staging, compare every table."""
    incremental = home / "incremental.duckdb"
    shutil.copyfile(home / "warehouse.duckdb", incremental)
    dbt(home, "run", "--full-refresh", "--select", STAGING, as_of=as_of)
    tables = staging_tables(home)
    assert len(tables) >= 10
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental}' as incremental (read_only)")
        con.execute(f"attach '{home / 'warehouse.duckdb'}' as full_refresh (read_only)")
        for table in tables:
            for a, b in (("incremental", "full_refresh"), ("full_refresh", "incremental")):
                extra = con.execute(f"""select count(*) from (
                    select * from {a}.staging.{table} except all
                    select * from {b}.staging.{table})""").fetchone()[0]
                assert extra == 0, f"{table}: {extra} rows of {a} not in {b} (as of {as_of})"
            newest = con.execute(
                f"select max(extract_date) from incremental.staging.{table}").fetchone()[0]
            assert newest is None or newest <= as_of, table


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    from tiering.ingest import ingest
    from tiering.simulate import simulate

    home = tmp_path_factory.mktemp("incremental_staging")
    simulate(home / "landing", home / "truth", 300, len(MONTH_ENDS), "2024-11", 3)
    ingest(Paths(home=home), as_of=MONTH_ENDS[1])
    dbt(home, "seed", as_of=MONTH_ENDS[1])
    dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[1])
    return home


def test_appended_month_by_month_equals_a_full_refresh(home: Path) -> None:
    from tiering.ingest import ingest

    for month in MONTH_ENDS[2:]:
        ingest(Paths(home=home), as_of=month)
        out = dbt(home, "run", "--select", STAGING, as_of=month)
        previous = MONTH_ENDS[MONTH_ENDS.index(month) - 1]
        assert f"staging stg_crm__clients: append the deliveries after {previous}" in out
        assert f"staging stg_service__tickets: append the deliveries after {previous}" in out
    assert_equals_full_refresh(home, MONTH_ENDS[-1])
    # nothing new: nothing rebuilt
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[-1])
    assert f"stg_finance__statements: append the deliveries after {MONTH_ENDS[-1]}" in out


def test_a_past_month_rebuilds_and_the_next_appends(home: Path) -> None:
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[2])
    assert "stg_crm__clients: rebuild, it holds deliveries after the as-of date" in out
    assert_equals_full_refresh(home, MONTH_ENDS[2])
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3])
    assert f"stg_crm__clients: append the deliveries after {MONTH_ENDS[2]}" in out
    assert_equals_full_refresh(home, MONTH_ENDS[3])


def test_a_redelivered_month_rebuilds(home: Path) -> None:
    """The raw layer's month 2 of crm clients loaded again, one contact renamed."""
    path = home / "raw" / "crm" / "clients" / f"{MONTH_ENDS[1].isoformat()}.parquet"
    table = pq.read_table(path)
    loaded_at = table.column("_loaded_at")
    later = pa.array([datetime.now() + timedelta(hours=1)] * table.num_rows,
                     type=loaded_at.type)
    table = table.set_column(table.schema.get_field_index("_loaded_at"), "_loaded_at", later)
    names = table.column("contact_name").to_pylist()
    names[0] = "更正后的联系人"
    table = table.set_column(table.schema.get_field_index("contact_name"), "contact_name",
                             pa.array(names, type=table.schema.field("contact_name").type))
    pq.write_table(table, path)
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3])
    assert (f"stg_crm__clients: rebuild, a delivery up to {MONTH_ENDS[3]} was re-delivered"
            in out)
    assert f"stg_finance__customers: append the deliveries after {MONTH_ENDS[3]}" in out
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_crm__clients where contact_name = "
                           "'更正后的联系人'").fetchone()[0] == 1
    assert_equals_full_refresh(home, MONTH_ENDS[3])


def test_changed_logic_rebuilds(home: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    macros = project / "macros" / "cleaning" / "phones.sql"
    code = macros.read_text(encoding="utf-8")
    end = code.index("{%- endmacro")
    macros.write_text(code[:end] + "{#- a changed macro -#}" + code[end:], encoding="utf-8")
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3], project=project)
    assert "stg_crm__clients: rebuild, the model, a macro or a seed changed" in out
    # a model that does not call phone_digits keeps its history
    assert (f"stg_risk__credit_profiles: append the deliveries after {MONTH_ENDS[3]}"
            in out)
    # back on the project's own logic: changed again, rebuilt again
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3])
    assert "stg_crm__clients: rebuild, the model, a macro or a seed changed" in out
    assert_equals_full_refresh(home, MONTH_ENDS[3])
    # a macro no staging model calls (the tier history's) changed: staging appends (nothing)
    other = copy_project(tmp_path / "other")
    periods = other / "macros" / "tiering" / "tiering_periods.sql"
    periods.write_text(periods.read_text(encoding="utf-8") + "\n{#- a changed macro -#}\n",
                       encoding="utf-8")
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3], project=other)
    assert "rebuild" not in out
    assert f"stg_crm__clients: append the deliveries after {MONTH_ENDS[3]}" in out


def test_an_append_reuses_the_names_the_newest_stored_delivery_cleaned(home: Path) -> None:
    """A marker written into the stored split of month 3's names shows up in month 4's rows
    when the append reuses the stored cleaning, and not with staging_reuse_stored: false."""
    def rerun_month_3_and_mark() -> None:
        out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[2])
        assert "stg_crm__clients: rebuild, it holds deliveries after the as-of date" in out
        with duckdb.connect(str(home / "warehouse.duckdb")) as con:
            con.execute("update staging.stg_crm__clients set client_name_core = "
                        "'探针' || client_name_core where extract_date = ?", [MONTH_ENDS[2]])

    def marked_in_month_4() -> tuple[int, int]:
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            return con.execute(
                "select count(*) filter (where client_name_core like '探针%'), count(*) "
                "from staging.stg_crm__clients where extract_date = ?",
                [MONTH_ENDS[3]]).fetchone()

    rerun_month_3_and_mark()
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3])
    assert f"stg_crm__clients: append the deliveries after {MONTH_ENDS[2]}" in out
    marked, rows = marked_in_month_4()
    assert rows > 0 and marked > 0.5 * rows, (marked, rows)  # most names repeat month to month

    rerun_month_3_and_mark()
    out = dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[3],
              extra_vars=", staging_reuse_stored: false")
    assert f"stg_crm__clients: append the deliveries after {MONTH_ENDS[2]}" in out
    assert marked_in_month_4() == (0, rows)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:  # month 3 unmarked
        con.execute("update staging.stg_crm__clients set client_name_core = "
                    "substr(client_name_core, 3) where client_name_core like '探针%'")
    assert_equals_full_refresh(home, MONTH_ENDS[3])


def test_variant_deliveries_appended_month_by_month_equal_a_full_refresh(
        tmp_path_factory) -> None:
    """The same on deliveries our simulator did not write (tiering/testing/variants.py): their
    corrections (receipts delivered again with another amount, tickets delivered again once
    closed), shuffled and extra columns, and finance's second month rejected whole, so finance
    appends after its first month."""
    from tiering.ingest import ingest
    from tiering.testing.variants import generate

    home = tmp_path_factory.mktemp("incremental_staging_variants")
    generate(home / "landing", home / "truth", 300, len(MONTH_ENDS), "2024-11", 3)
    ingest(Paths(home=home), as_of=MONTH_ENDS[1])
    dbt(home, "seed", as_of=MONTH_ENDS[1])
    dbt(home, "run", "--select", STAGING, as_of=MONTH_ENDS[1])
    outputs = {}
    for month in MONTH_ENDS[2:]:
        ingest(Paths(home=home), as_of=month)
        outputs[month] = dbt(home, "run", "--select", STAGING, as_of=month)
        previous = MONTH_ENDS[MONTH_ENDS.index(month) - 1]
        assert f"staging stg_crm__clients: append the deliveries after {previous}" \
            in outputs[month]
    # finance's 2024-12 delivery was rejected: its newest stored delivery is 2024-11
    assert f"stg_finance__customers: append the deliveries after {MONTH_ENDS[0]}" \
        in outputs[MONTH_ENDS[2]]
    assert_equals_full_refresh(home, MONTH_ENDS[-1])


def test_a_month_cut_twice_and_on_a_friday_equals_a_full_refresh(tmp_path_factory) -> None:
    """A delivery belongs to its month end, whatever day it was cut (macros/cleaning/
    deliveries.sql, delivery_period). November 2025 ends on a Sunday: crm, risk and service cut
    it on Friday the 28th (the variants' business_day_cuts). crm had first delivered a cut of
    November 14th, which the 28th's replaces. Appended in the order they arrive (the 28th's
    manifest comes late), staging keeps one row per crm_id and period, November's rows come
    from the newest cut, and every step equals a full refresh."""
    from tiering.ingest import ingest
    from tiering.testing.variants import generate

    home = tmp_path_factory.mktemp("incremental_staging_cuts")
    october, november, december = date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31)
    generate(home / "landing", home / "truth", 300, 3, "2025-10", 3, business_day_cuts=True)
    crm = home / "landing" / "crm"
    early = crm / "2025-11-14"
    shutil.copytree(crm / october.isoformat(), early)  # October's content, cut mid-November
    manifest = early / "_manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        october.isoformat(), "2025-11-14"), encoding="utf-8")
    late = crm / "2025-11-28" / "_manifest.json"
    withheld = home / "withheld_manifest.json"
    late.rename(withheld)  # the 28th's cut is still being written

    def november_sources() -> set[str]:
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            rows, keys = con.execute(
                "select count(*), count(distinct crm_id || '|' || cast(extract_date as varchar))"
                " from staging.stg_crm__clients").fetchall()[0]
            assert rows == keys, f"{rows} rows, {keys} distinct (crm_id, extract_date)"
            return {row[0].split("/")[1] for row in con.execute(
                "select distinct source_file from staging.stg_crm__clients "
                f"where extract_date = date '{november}'").fetchall()}

    ingest(Paths(home=home), as_of=october)
    dbt(home, "seed", as_of=october)
    dbt(home, "run", "--select", STAGING, as_of=october)
    ingest(Paths(home=home), as_of=november)
    out = dbt(home, "run", "--select", STAGING, as_of=november)
    assert f"staging stg_crm__clients: append the deliveries after {october}" in out
    assert november_sources() == {"2025-11-14"}
    withheld.rename(late)
    ingest(Paths(home=home), as_of=november)
    out = dbt(home, "run", "--select", STAGING, as_of=november)
    assert "staging stg_crm__clients: append the deliveries after 2025-11-14" in out
    assert november_sources() == {"2025-11-28"}
    assert_equals_full_refresh(home, november)
    ingest(Paths(home=home), as_of=december)
    out = dbt(home, "run", "--select", STAGING, as_of=december)
    assert "staging stg_crm__clients: append the deliveries after 2025-11-28" in out
    assert "staging stg_risk__credit_profiles: append the deliveries after 2025-11-28" in out
    assert november_sources() == {"2025-11-28"}
    assert_equals_full_refresh(home, december)
