"""`tiering refresh` / `tiering backfill` for real: a small simulated landing zone, the real Dagster
job executed in-process (ingest, dbt build around the risk model, GX gates, publish, report)."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pub_fixtures import READER, personal_data_leaks

# Imported before the fixtures set DBT_TARGET_PATH, as in a session whose other test modules
# imported it first: the dbt steps must still find each other's parse (keep_partial_parse).
import orchestration.project  # noqa: F401,E402  isort: skip

CLIENTS, MONTHS, START, SEED = 500, 4, "2025-01", 20261128
FIRST_AS_OF = date(2025, 3, 31)  # refreshed with --as-of while April is already delivered
LAST_PERIOD = date(2025, 4, 30)  # the latest complete period: the default of the next refresh


def run(fn, *args, **kwargs) -> tuple[int, str]:
    """Call a pipeline function; its exit code and everything it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = fn(*args, **kwargs)
    return code, out.getvalue()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): digest(p) for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A simulated landing zone of four months and a real refresh as of the third
    (`--as-of 2025-03-31`): the fourth month sits in the landing zone and must not be used."""
    simulate = pytest.importorskip("tiering.simulate").simulate
    pytest.importorskip("tiering.ingest").ingest
    home = tmp_path_factory.mktemp("orc_home")
    target = tmp_path_factory.getbasetemp() / "dbt_target"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TIERING_HOME", str(home))
        env.delenv("TIERING_LANDING_DIR", raising=False)
        env.setenv("DBT_TARGET_PATH", str(target))
        env.setenv("TIERING_GX_UNCOMMITTED", str(home / "gx"))
        simulate(home / "landing", home / "truth", CLIENTS, MONTHS, START, SEED)
        from tiering.pipeline import refresh

        indirect_selection = os.environ.get("DBT_INDIRECT_SELECTION")
        as_of = os.environ.get("TIERING_AS_OF_DATE")
        started = time.monotonic()
        code, output = run(refresh, FIRST_AS_OF)
        yield {"home": home, "code": code, "output": output, "target": target,
               "seconds": time.monotonic() - started,
               "indirect_selection_before": indirect_selection, "as_of_before": as_of}


@pytest.fixture(scope="session")
def refreshed(first: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Then `tiering refresh` (latest complete period: April) while a BI-like reader process
    queries the serving database in a loop."""
    if first["code"] != 0:
        pytest.skip("the first refresh failed (test_refresh_as_of_uses_only_deliveries_up_to_it "
                    "says why)")
    home = first["home"]
    work = tmp_path_factory.mktemp("reader")
    script, stop = work / "reader.py", work / "stop"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(home / "serving.duckdb"),
                               str(stop), "1800"], stdout=subprocess.PIPE, text=True)
    from tiering.pipeline import refresh

    started, started_at = time.monotonic(), time.time()
    code, output = run(refresh)
    seconds = time.monotonic() - started
    time.sleep(1.0)  # let the reader open the new version
    stop.touch()
    seen = json.loads(reader.communicate(timeout=120)[0])
    return {**first, "code": code, "output": output, "seconds": seconds, "reader": seen,
            "started_at": started_at,
            "frozen_after": gc.get_freeze_count(),
            "indirect_selection_after": os.environ.get("DBT_INDIRECT_SELECTION"),
            "as_of_after": os.environ.get("TIERING_AS_OF_DATE")}


def test_refresh_as_of_uses_only_deliveries_up_to_it(first: dict) -> None:
    home = first["home"]
    assert first["code"] == 0, first["output"][-4000:]
    assert f"as of {FIRST_AS_OF}" in first["output"]
    assert (home / "landing" / "crm" / LAST_PERIOD.isoformat() / "_manifest.json").exists()
    loaded = {p.stem for p in (home / "raw").glob("*/*/*.parquet") if p.stem[0].isdigit()}
    assert max(loaded) == FIRST_AS_OF.isoformat(), sorted(loaded)
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        assert con.execute("select max(as_of_period) from publish_log").fetchone()[0] == FIRST_AS_OF
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'marts'").fetchall()}
        if "client_tiers" in tables:
            assert con.execute("select max(period_date) from marts.client_tiers"
                               ).fetchone()[0] == FIRST_AS_OF
    timings = json.loads((home / "state" / "step_timings.json").read_text())
    assert timings["success"] and timings["as_of_date"] == FIRST_AS_OF.isoformat()
    assert {"raw_deliveries", "gx_raw", "warehouse_dbt_assets", "serving__serving_duckdb",
            "serving__report"} <= set(timings["steps_s"])
    assert "raw.crm.clients" in timings["gx_suites_s"]
    # refresh builds leave the dbt unit tests to CI (they run in test_staging/identity/tiering)
    results = [json.loads(p.read_text()) for p in first["target"].rglob("run_results.json")]
    nodes = [r["unique_id"] for result in results for r in result["results"]]
    assert nodes and not [n for n in nodes if n.startswith("unit_test.")]


def test_every_mart_column_is_documented(refreshed: dict) -> None:
    """The marts are BI's contract: every column of every mart as built has a description in
    the manifest (what dbt docs shows; client_tiers_current shares client_tiers' through doc
    blocks, models/marts/tiering/client_tiers.md)."""
    needs_a_good_refresh(refreshed)
    from orchestration.assets.dbt import warehouse_dbt_assets_manifest

    marts = [n for n in warehouse_dbt_assets_manifest()["nodes"].values()
             if n["resource_type"] == "model" and n["fqn"][1] == "marts"]
    assert len(marts) >= 15
    undocumented = {}
    with duckdb.connect(str(refreshed["home"] / "warehouse.duckdb"), read_only=True) as con:
        for node in marts:
            built = [row[0] for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [node["schema"], node["alias"]]).fetchall()]
            assert built, f"{node['name']} is not built"
            documented = {name.lower() for name, column in node["columns"].items()
                          if column.get("description", "").strip()}
            missing = [name for name in built if name.lower() not in documented]
            if missing or not node.get("description", "").strip():
                undocumented[node["name"]] = missing or ["(the model itself)"]
    assert not undocumented, f"mart columns without a description: {undocumented}"
    # the serving copy carries them as comments, on the marts and on the views BI queries
    with duckdb.connect(str(refreshed["home"] / "serving.duckdb"), read_only=True) as con:
        uncommented = con.execute("""
            select schema_name, table_name, column_name from duckdb_columns()
            where schema_name in ('marts', 'main') and comment is null
              and table_name in (select table_name from duckdb_tables()
                                 where schema_name = 'marts')""").fetchall()
        commented = con.execute("""
            select count(*) from duckdb_columns()
            where schema_name = 'main' and table_name = 'client_tiers_current'
              and comment is not null""").fetchone()[0]
    assert uncommented == [], uncommented
    assert commented >= 50


def test_refresh_builds_every_model_publishes_and_reports(refreshed: dict) -> None:
    home = refreshed["home"]
    assert refreshed["code"] == 0, refreshed["output"][-4000:]
    assert f"as of {LAST_PERIOD}" in refreshed["output"]
    assert str(home / "serving.duckdb") in refreshed["output"]
    # the steps froze what survived their collections (tiering.config.release_memory); the
    # run made it collectable again when it ended
    assert refreshed["frozen_after"] == 0
    # the dbt steps' indirect selection ("buildable") was the dbt process's, not left in this
    # process's environment, where it dropped the data tests of a later bare `dbt test` whose
    # parents were not all selected (test_identity's decisions test, run after this file)
    assert refreshed["indirect_selection_after"] == refreshed["indirect_selection_before"]
    # nor the run's as-of date (orchestration/project.py, as_of_environment), which a later dbt
    # run of this process would otherwise take for its own
    assert refreshed["as_of_after"] == refreshed["as_of_before"]
    # a new month's dbt steps start from the saved parse: the as-of date is not among the vars
    # (macros/as_of_date.sql; with it there, the first step parsed the whole project again),
    # and each step leaves its parse where dagster-dbt seeds the next one from
    # (orchestration/assets/dbt.py, keep_partial_parse; the first refresh of this home parsed)
    logs = [log for log in Path(refreshed["target"]).rglob("dbt.log")
            if log.stat().st_mtime >= refreshed["started_at"]]
    assert len(logs) >= 2
    reparsed = {str(log): reason for log in logs for reason in re.findall(
        r"Unable to do partial parsing because ([^.\n]*)",
        log.read_text(encoding="utf-8", errors="replace"))}
    assert not reparsed, reparsed
    from orchestration.assets.dbt import warehouse_dbt_assets_manifest

    models = {(n["schema"], n["alias"]) for n in warehouse_dbt_assets_manifest()["nodes"].values()
              if n["resource_type"] == "model" and n["config"].get("materialized") != "ephemeral"}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        built = set(con.sql("select table_schema, table_name from information_schema.tables")
                    .fetchall())
        assert models <= built, f"models not built: {sorted(models - built)}"
        if ("ml", "client_pd_scores") in built:
            assert con.execute("select count(*) from ml.client_pd_scores").fetchone()[0] > 0
        if ("marts", "client_tiers") in built:
            periods = con.execute("select max(period_date) from marts.client_tiers").fetchone()[0]
            assert periods == LAST_PERIOD
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        assert con.execute("select version, as_of_period from publish_log order by version"
                           ).fetchall() == [(1, FIRST_AS_OF), (2, LAST_PERIOD)]
        # dbt's data tests of the run are logged beside the expectations (all pass here)
        tests, passed = con.execute("select count(*), count(*) filter (where success) "
                                    "from quality_results where version = 2 and suite = 'dbt'"
                                    ).fetchone()
        assert tests > 100 and passed == tests
    for as_of in (FIRST_AS_OF, LAST_PERIOD):
        report = home / "reports" / as_of.isoformat()
        assert (report / "report.html").exists() and (report / "report.xlsx").exists()
    assert (home / "gx" / "data_docs" / "local_site" / "index.html").exists()
    state = json.loads((home / "state" / "last_refresh.json").read_text())
    assert state["as_of_date"] == LAST_PERIOD.isoformat()


def test_the_monthly_publish_copied_the_tier_periods_the_build_rewrote(refreshed: dict) -> None:
    """client_tiers' pre-hook records which dbt invocation wrote each period; the monthly
    publish copied (and exported) the periods whose version changed, by that record alone."""
    home = refreshed["home"]
    assert refreshed["code"] == 0, refreshed["output"][-4000:]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        build = con.execute("select period_date, version from main.period_versions "
                            "where table_name = 'client_tiers' order by 1").fetchall()
        periods = [p for (p,) in con.execute("select distinct period_date from "
                                             "marts.client_tiers order by 1").fetchall()]
    assert [p for p, _ in build] == periods and periods[-1] == LAST_PERIOD
    first_run = {v for p, v in build if p <= FIRST_AS_OF}
    assert len(first_run) == 1 and build[-1][1] not in first_run  # April: the second run's
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        served = con.execute("select period_date, version from main.period_versions "
                             "where table_name = 'client_tiers' order by 1").fetchall()
        fingerprinted = con.execute("select count(*) from main.period_fingerprints").fetchone()[0]
    assert served == build and fingerprinted == 0
    first, second = (home / "exports" / v / "client_tiers" for v in ("1", "2"))
    for period in periods:
        name = f"{period.isoformat()}.parquet"
        if period <= FIRST_AS_OF:  # not rewritten by the second run: the same file
            assert (first / name).stat().st_ino == (second / name).stat().st_ino, name
        else:
            assert not (first / name).exists() and (second / name).exists(), name


def test_a_reader_during_the_refresh_sees_whole_versions_and_no_errors(refreshed: dict) -> None:
    seen = refreshed["reader"]
    assert seen["errors"] == []
    assert seen["torn"] == []
    assert seen["versions"] == [1, 2], seen
    assert seen["reads"] > 20, seen


def test_no_unmasked_phone_or_email_in_the_serving_database(refreshed: dict) -> None:
    home = refreshed["home"]
    assert personal_data_leaks(home / "serving.duckdb") == []
    # the same scan finds them in the build database, which keeps the full values
    assert personal_data_leaks(home / "warehouse.duckdb")


def needs_a_good_refresh(refreshed: dict) -> None:
    if refreshed["code"] != 0:
        pytest.skip("the refresh failed (test_refresh_builds_every_model_publishes_and_reports "
                    "says why)")


def test_a_refresh_with_nothing_new_finishes_quickly_and_says_so(refreshed: dict) -> None:
    needs_a_good_refresh(refreshed)
    from tiering.pipeline import refresh

    serving = digest(refreshed["home"] / "serving.duckdb")
    started = time.monotonic()
    code, output = run(refresh)
    assert code == 0 and "Nothing to do" in output, output
    assert time.monotonic() - started < 5
    assert digest(refreshed["home"] / "serving.duckdb") == serving


def test_tiering_client_traces_a_published_client_to_its_delivered_rows(
        refreshed: dict, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`tiering client` on the refreshed home: the client known to the most departments, found
    by key and by one of its source records, with every record's delivered row found in the
    raw layer and the names the departments typed shown as typed."""
    needs_a_good_refresh(refreshed)
    home = refreshed["home"]
    monkeypatch.setenv("TIERING_HOME", str(home))
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        key, records = con.execute(
            "select client_key, count(*) from marts.client_source_xref "
            "where department <> 'service' group by client_key "
            "order by count(distinct department) desc, count(*) desc, client_key limit 1"
        ).fetchone()
        crm_id = con.execute("select min(record_id) from marts.client_source_xref where "
                             "client_key = ? and department = 'crm'", [key]).fetchone()[0]
        other = con.execute("select min(department || ':' || record_id) from "
                            "marts.client_source_xref where client_key = ? and department "
                            "not in ('crm', 'service')", [key]).fetchone()[0]
    with duckdb.connect() as con:
        names = {n for (n,) in con.execute(
            f"select client_name from read_parquet('{home}/raw/crm/clients/{LAST_PERIOD}.parquet')"
            " where crm_id = ?", [crm_id]).fetchall()}
    from tiering.cli import main as cli_main

    assert cli_main(["client", key]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Client {key}") and records >= 3
    assert "(raw row not found)" not in out
    assert all(f"client_name={name}" in out for name in names) and names
    assert "Tiers as of 2025-04-30" in out and "default tier history:" in out
    assert cli_main(["client", f"crm:{crm_id}"]) == 0
    assert capsys.readouterr().out.startswith(f"Client {key}")
    # two of its records as a pair, from the build database: one client, and how
    assert cli_main(["client", f"crm:{crm_id}", "--vs", other]) == 0
    out = capsys.readouterr().out
    assert "One client: " in out and "name_core=" in out
    assert "Pair compared: rule" in out or "Pair not compared" in out \
        or "Pair never a candidate" in out


def _deliver_next_month_with_a_broken_finance_file(landing: Path) -> date:
    """Copy every department's latest delivery to the next month end; finance's manifest then
    claims more receipts rows than the file has (a broken delivery under the contract)."""
    new = date(2025, 5, 31)
    for department_dir in sorted(p for p in landing.iterdir() if p.is_dir()):
        latest = max(p for p in department_dir.iterdir() if (p / "_manifest.json").exists())
        target = department_dir / new.isoformat()
        shutil.copytree(latest, target)
        manifest = json.loads((target / "_manifest.json").read_text(encoding="utf-8"))
        manifest["extract_date"] = new.isoformat()
        if department_dir.name == "finance":
            manifest["files"]["receipts.csv"]["rows"] += 7
        (target / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return new


def test_a_bad_delivery_fails_the_refresh_and_leaves_serving_and_report_as_they_were(
        refreshed: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_a_good_refresh(refreshed)
    from tiering.pipeline import refresh

    home = tmp_path / "home"
    shutil.copytree(refreshed["home"], home, ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("TIERING_HOME", str(home))
    monkeypatch.setenv("TIERING_GX_UNCOMMITTED", str(home / "gx"))
    serving, reports = digest(home / "serving.duckdb"), tree(home / "reports")
    docs = set((home / "gx" / "data_docs").rglob("*.html"))
    new = _deliver_next_month_with_a_broken_finance_file(home / "landing")

    code, output = run(refresh)

    assert code == 1, output[-3000:]
    assert f"refresh as of {new} FAILED" in output
    assert "check gx_raw on raw/finance failed" in output, output[-3000:]
    assert "receipts.csv" in output, output[-3000:]
    assert digest(home / "serving.duckdb") == serving
    assert tree(home / "reports") == reports
    # Data Docs show why at once (rendered by the failing check itself)
    pages = {p.relative_to(home).as_posix() for p in set(
        (home / "gx" / "data_docs").rglob("*.html")) - docs}
    assert [p for p in pages if "/raw/deliveries/" in p], sorted(pages)
    with duckdb.connect(str(home / "ops.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from pipeline_alerts where as_of_date = ?",
                           [new.isoformat()]).fetchone()[0] == 1
    # the fallback: the latest period whose deliveries all loaded is April, already published
    # (nothing to do); the refused month's rows left the build database
    assert f"{LAST_PERIOD} is the latest period whose deliveries all loaded" in output
    assert "Nothing to do" in output, output[-3000:]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        for table in ("marts.client_tiers", "intermediate.int_tiering_client_features_built"):
            assert con.execute(f"select max(period_date) from {table}").fetchone()[0] \
                == LAST_PERIOD, table
        assert con.execute("select max(as_of_date) from marts.client_xref_history"
                           ).fetchone()[0] == LAST_PERIOD


def _tiers(home: Path) -> tuple[pd.DataFrame, dict]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tiers = con.execute("select client_key, period_date, profile_code, tier_code, "
                            "previous_tier_code, composite_score from marts.client_tiers "
                            "order by all").df()
        versions = dict(con.execute("select period_date, version from main.period_versions "
                                    "where table_name = 'client_tiers'").fetchall())
    return tiers, versions


def test_backfill_restate_rebuilds_the_months_in_one_run(
        refreshed: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tiering backfill --restate`: the months from --from on are deleted from every period
    table and rebuilt by one refresh as of --to; a restate from the first month drops the
    tables and rebuilds the history as a first build. Rebuilt from the same stored months
    before them, the same deliveries and the same identity, months come out the same; the
    months before --from are not touched."""
    needs_a_good_refresh(refreshed)
    from tiering.pipeline import backfill, period_tables, restate

    home = tmp_path / "home"
    shutil.copytree(refreshed["home"], home, ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("TIERING_HOME", str(home))
    monkeypatch.setenv("TIERING_GX_UNCOMMITTED", str(home / "gx"))
    tiers, versions = _tiers(home)
    assert sorted(versions) == [date(2025, 1, 31), date(2025, 2, 28), FIRST_AS_OF, LAST_PERIOD]
    tables = period_tables()
    assert {"ml.client_pd_scores", '"warehouse"."marts"."client_tiers"',
            '"warehouse"."intermediate"."int_tiering_client_features_built"'} <= set(tables)

    code, output = run(restate, "2025-02", "2025-03")  # the history holds April
    assert code == 1 and "--to 2025-04" in output, output

    # April alone: it continues from the stored March, as its first build did. The unified
    # view was built as of April from these deliveries and this code: the `retier` job keeps it
    # (no ingestion, staging or identity), and the tiers come out the same
    xref_before = _table_fingerprint(home, "marts.client_source_xref")
    code, output = run(restate, "2025-04", "2025-04")
    assert code == 0, output[-4000:]
    assert "rows from 2025-04 on deleted" in output and "dropped" not in output, output
    assert f"Refreshed as of {LAST_PERIOD}" in output
    assert "unified client view is already built as of" in output, output
    assert _last_job(home) == "retier"
    assert _table_fingerprint(home, "marts.client_source_xref") == xref_before
    after, new_versions = _tiers(home)
    assert {p for p in versions if new_versions[p] != versions[p]} == {LAST_PERIOD}
    pd.testing.assert_frame_equal(tiers, after)
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        assert con.execute("select max(as_of_period) from publish_log").fetchone()[0] \
            == LAST_PERIOD

    # every month: the tables are dropped and the history is built as a first build, with
    # April's identity (January to March were built with March's: they may differ). Without
    # the record of the unified view's build (as after a failed run), it is rebuilt too
    (home / "state" / "unified_view.json").unlink()
    code, output = run(restate, "2025-01", "2025-04")
    assert code == 0, output[-4000:]
    assert "marts\".\"client_tiers\": dropped" in output, output
    assert "unified client view is rebuilt too: no successful build" in output, output
    assert _last_job(home) == "refresh"
    assert _table_fingerprint(home, "marts.client_source_xref") == xref_before
    restated, restated_versions = _tiers(home)
    assert set(restated_versions) == set(versions)
    assert not {p for p in versions if restated_versions[p] == new_versions[p]}

    # March and April again, deleted and rebuilt from the restated February: the same rows
    # (the refresh above recorded its build of the unified view: kept again)
    code, output = run(restate, "2025-03", "2025-04")
    assert code == 0, output[-4000:]
    assert _last_job(home) == "retier"
    again, again_versions = _tiers(home)
    assert {p for p in versions if again_versions[p] != restated_versions[p]} == {
        FIRST_AS_OF, LAST_PERIOD}
    pd.testing.assert_frame_equal(restated, again)

    # month by month over held months: March rebuilt with March's identity differs from the
    # restated March (April's), and the stored April continued from the restated one. The
    # backfill deletes the months first, then builds March and refreshes April; before, the
    # build of March stopped at the migrations' test (April's previous tier no longer March's).
    # A range ending before the newest held month is refused, nothing changed
    code, output = run(backfill, "2025-02", "2025-03")
    assert code == 1 and "--to 2025-04" in output, output
    assert _tiers(home)[1] == again_versions
    code, output = run(backfill, "2025-03", "2025-04")
    assert code == 0, output[-4000:]
    assert "rows from 2025-03 on deleted" in output, output
    backfilled, backfilled_versions = _tiers(home)
    assert set(backfilled_versions) == set(versions)
    assert {p for p in versions if backfilled_versions[p] != again_versions[p]} == {
        FIRST_AS_OF, LAST_PERIOD}
    march = pd.Timestamp(FIRST_AS_OF)
    assert not backfilled[backfilled.period_date == march].reset_index(drop=True).equals(
        again[again.period_date == march].reset_index(drop=True))  # what broke the old way
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        broken = con.execute("""
            select count(*) from marts.client_tiers as april
            left join marts.client_tiers as march
              on march.client_key = april.client_key
              and march.profile_code = april.profile_code and march.period_date = ?
            where april.period_date = ?
              and april.previous_tier_code is distinct from march.tier_code""",
                             [FIRST_AS_OF, LAST_PERIOD]).fetchall()[0][0]
    assert broken == 0

    # what makes the next restate rebuild the unified view: a delivery re-delivered and not yet
    # ingested, a table changed by hand, another as-of date
    from orchestration import unified_view
    from orchestration.project import ensure_manifest
    from tiering.config import get_paths

    paths = get_paths()
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    assert unified_view.why_not_current(paths, LAST_PERIOD, manifest) is None
    assert "built as of" in unified_view.why_not_current(paths, FIRST_AS_OF, manifest)
    delivered = home / "landing" / "crm" / FIRST_AS_OF.isoformat() / "_manifest.json"
    original = delivered.read_text(encoding="utf-8")
    delivered.write_text(original + "\n", encoding="utf-8")
    assert "not ingested yet" in unified_view.why_not_current(paths, LAST_PERIOD, manifest)
    delivered.write_text(original, encoding="utf-8")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("delete from marts.dim_clients where client_key = "
                    "(select min(client_key) from marts.dim_clients)")
    assert unified_view.why_not_current(paths, LAST_PERIOD, manifest) \
        == "its tables changed since it was built"


def _table_fingerprint(home: Path, table: str) -> tuple:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"select count(*), sum(hash(t)) from {table} as t").fetchone()


def _last_job(home: Path) -> str:
    return json.loads((home / "state" / "step_timings.json").read_text())["job"]


def test_backfill_refuses_a_reversed_range(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    from tiering.pipeline import backfill

    code, output = run(backfill, "2025-03", "2025-01")
    assert code == 1 and "after" in output


def test_serve_starts_dagster_dev_on_this_code_location(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tiering.pipeline as pipeline

    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(pipeline.subprocess, "call",
                        lambda command, cwd, env: calls.append((command, env)) or 0)
    assert run(pipeline.serve)[0] == 0
    [(command, env)] = calls
    assert command[1:] == ["dev", "-m", "orchestration.definitions"]
    assert env["DAGSTER_HOME"] == str(tmp_path / "dagster")
    instance_yaml = (tmp_path / "dagster" / "dagster.yaml").read_text()
    assert "default_limit: 1" in instance_yaml and "retry_on_asset_or_op_failure: false" in (
        instance_yaml)
