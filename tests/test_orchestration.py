"""The Dagster code location: definitions load, schedules, the delivery sensor, the run-failure
alert, one writer. Fast: a hand-made landing zone of manifests, no dbt run (the real runs are in
tests/test_pipeline.py)."""

from __future__ import annotations

import gc
import json
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from orchestration.deliveries import (
    complete_deliveries,
    complete_periods,
    fingerprint,
    latest_complete_period,
    month_ends,
)
from orchestration.resources import TieringResource
from tiering.contract import DEPARTMENTS


def deliver(landing: Path, department: str, extract_date: str, *, manifest: bool = True) -> Path:
    folder = landing / department / extract_date
    folder.mkdir(parents=True, exist_ok=True)
    if manifest:
        (folder / "_manifest.json").write_text(json.dumps(
            {"department": department, "extract_date": extract_date, "files": {}}))
    return folder


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    monkeypatch.delenv("TIERING_LANDING_DIR", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    # dbt artefacts (the parsed manifest) of this test session stay out of the project's target/
    os.environ.setdefault("DBT_TARGET_PATH", str(tmp_path_factory.getbasetemp() / "dbt_target"))
    from orchestration.definitions import defs

    return defs


# -- the landing zone --------------------------------------------------------------------------

def test_month_ends_are_in_order_across_a_year_end() -> None:
    assert month_ends("2024-11", "2025-02") == [
        date(2024, 11, 30), date(2024, 12, 31), date(2025, 1, 31), date(2025, 2, 28)]
    with pytest.raises(ValueError):
        month_ends("2025-03", "2025-01")


def test_a_period_is_complete_only_with_every_departments_manifest(home: Path) -> None:
    landing = home / "landing"
    for department in DEPARTMENTS:
        deliver(landing, department, "2025-01-31")
    for department in DEPARTMENTS[:-1]:
        deliver(landing, department, "2025-02-28")
    deliver(landing, DEPARTMENTS[-1], "2025-02-28", manifest=False)  # still being written
    assert complete_periods(landing) == [date(2025, 1, 31)]
    assert len(complete_deliveries(landing, as_of=date(2025, 1, 31))) == len(DEPARTMENTS)
    before = fingerprint(landing, date(2025, 2, 28))
    deliver(landing, DEPARTMENTS[-1], "2025-02-28")
    assert latest_complete_period(landing) == date(2025, 2, 28)
    assert fingerprint(landing, date(2025, 2, 28)) != before
    assert fingerprint(landing, date(2025, 1, 31)) == fingerprint(landing, date(2025, 1, 31))


# -- definitions -------------------------------------------------------------------------------

def test_definitions_load_with_every_layer(defs: dg.Definitions) -> None:
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert {dg.AssetKey(["raw", d]) for d in DEPARTMENTS} <= keys
    assert {dg.AssetKey(["ml", "client_pd_scores"]), dg.AssetKey(["serving", "serving_duckdb"]),
            dg.AssetKey(["serving", "report"])} <= keys
    assert any(k.path[0] == "staging" for k in keys), "the dbt models are assets"
    # the UI's asset graph is grouped by layer
    groups = {node.group_name for node in defs.resolve_asset_graph().asset_nodes}
    assert {"raw", "seeds", "staging", "intermediate", "marts", "ml", "serving"} <= groups
    refresh = defs.resolve_job_def("refresh")
    assert refresh.tags["dagster/max_retries"] == "2"
    assert {"refresh", "build"} <= {j.name for j in defs.resolve_all_job_defs()}


def test_dbt_sources_map_to_the_ingest_and_risk_model_assets(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    staging = [k for k in graph.get_all_asset_keys() if k.path[0] == "staging"]
    parents = set().union(*(graph.get(k).parent_keys for k in staging))
    assert parents & {dg.AssetKey(["raw", d]) for d in DEPARTMENTS}
    readers = graph.get(dg.AssetKey(["ml", "client_pd_scores"])).child_keys
    if readers:  # the tier models that read the PD scores run in a second dbt step
        nodes = {n.name for n in defs.resolve_job_def("refresh").graph.nodes}
        assert {"warehouse_dbt_assets", "warehouse_dbt_assets_2"} <= nodes


def test_every_step_that_touches_the_warehouse_is_in_the_one_writer_pool(
        defs: dg.Definitions) -> None:
    from orchestration.assets import ASSETS, QUALITY_CHECKS

    by_name = {a.node_def.name: a for a in [*ASSETS, *QUALITY_CHECKS]}
    for name in ("warehouse_dbt_assets", "risk_model", "serving__serving_duckdb", "gx_raw"):
        assert by_name[name].node_def.pool == "warehouse_writer", name


def test_retier_jobs_leave_out_ingestion_and_the_unified_view(defs: dg.Definitions) -> None:
    """`retier` (what a restate runs when the unified view is current) builds every tier model
    and publishes, without ingestion, staging, identity or the client marts."""
    from orchestration.assets.dbt import unified_view_keys

    unified = unified_view_keys()
    assert {dg.AssetKey(["marts", "dim_clients"]), dg.AssetKey(["marts", "client_source_xref"]),
            dg.AssetKey(["staging", "stg_crm__clients"])} <= unified
    assert not any("tier" in key.path[-1] for key in unified)
    every = defs.resolve_job_def("refresh").asset_layer.selected_asset_keys
    for name, serving in (("retier", True), ("retier_build", False)):
        selected = defs.resolve_job_def(name).asset_layer.selected_asset_keys
        assert not selected & unified and not any(key.path[0] == "raw" for key in selected)
        assert {dg.AssetKey(["marts", "client_tiers"]), dg.AssetKey(["ml", "client_pd_scores"]),
                dg.AssetKey(["seeds", "tiering_weight_profiles"])} <= selected
        assert selected | unified | {k for k in every if k.path[0] in ("raw", "serving")} \
            == every
        assert (dg.AssetKey(["serving", "serving_duckdb"]) in selected) == serving


def test_the_unified_views_code_key_follows_its_own_code_only(defs: dg.Definitions) -> None:
    """A change to an identity seed, model or macro changes the key (the view is rebuilt); a
    change to a tiering seed or model does not (a restate after a weight change keeps it)."""
    import copy

    from orchestration.assets.dbt import warehouse_dbt_assets_manifest
    from orchestration.unified_view import code_key, unified_view_nodes

    manifest = warehouse_dbt_assets_manifest()
    names = {manifest["nodes"][uid]["name"] for uid in unified_view_nodes(manifest)}
    assert {"stg_crm__clients", "int_identity_pairs_scored", "dim_clients",
            "client_source_xref", "dim_clients_snapshot"} <= names
    assert not {"client_tiers", "int_tiering_client_features_built"} & names
    base = code_key(manifest)
    assert code_key(copy.deepcopy(manifest)) == base

    def changed(unique_id: str) -> str:
        edited = copy.deepcopy(manifest)
        edited["nodes"][unique_id]["checksum"]["checksum"] += "0"
        return code_key(edited)

    by_name = {node["name"]: uid for uid, node in manifest["nodes"].items()
               if node["resource_type"] in ("model", "seed")}
    assert changed(by_name["identity_thresholds"]) != base
    assert changed(by_name["int_identity_pairs_scored"]) != base
    assert changed(by_name["tiering_weight_profiles"]) == base
    assert changed(by_name["client_tiers"]) == base
    called = manifest["nodes"][by_name["int_identity_pairs_scored"]]["depends_on"]["macros"]
    project_macros = [m for m in called if m.startswith("macro.tiering.")]
    assert project_macros, "the identity models call the project's macros"
    edited = copy.deepcopy(manifest)
    edited["macros"][project_macros[0]]["macro_sql"] += " "
    assert code_key(edited) != base


# -- schedules ---------------------------------------------------------------------------------

def test_schedules_run_at_six_and_on_the_first_in_beijing_time(defs: dg.Definitions) -> None:
    daily = defs.resolve_schedule_def("daily_refresh")
    monthly = defs.resolve_schedule_def("monthly_retiering")
    assert (daily.cron_schedule, daily.execution_timezone) == ("0 6 * * *", "Asia/Shanghai")
    assert (monthly.cron_schedule, monthly.execution_timezone) == ("0 2 1 * *", "Asia/Shanghai")
    assert daily.job_name == monthly.job_name == "refresh"


def test_daily_schedule_refreshes_the_latest_complete_period_once(
        defs: dg.Definitions, home: Path) -> None:
    from orchestration.state import record_refresh
    from tiering.config import get_paths

    daily = defs.resolve_schedule_def("daily_refresh")
    first_of_june = datetime(2025, 6, 1, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with dg.build_schedule_context(scheduled_execution_time=first_of_june) as context:
        assert isinstance(daily.evaluate_tick(context).skip_message, str)  # nothing delivered
        for department in DEPARTMENTS:
            deliver(home / "landing", department, "2025-03-31")
        [request] = daily.evaluate_tick(context).run_requests
        assert request.run_config["resources"]["tiering"]["config"]["as_of_date"] == "2025-03-31"
        (home / "serving.duckdb").touch()
        tier_history(home, "2025-03-31")
        record_refresh(get_paths(), date(2025, 3, 31), "run-1")
        assert "already published" in daily.evaluate_tick(context).skip_message
        monthly = defs.resolve_schedule_def("monthly_retiering")
        [retier] = monthly.evaluate_tick(context).run_requests  # re-tiers even when unchanged
        assert retier.tags["tiering/trigger"] == "monthly"
        assert retier.run_key == "retier-2025-03-31-202506"


def tier_history(home: Path, *periods: str) -> None:
    """A build database whose marts.client_tiers holds `periods`."""
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.client_tiers (period_date date)")
        for period in periods:
            con.execute("insert into marts.client_tiers values (cast(? as date))", [period])


def test_a_release_makes_the_published_period_worth_refreshing_again(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as-of date and deliveries have nothing to do only with the same code: after a
    release (a rule, a seed) the next refresh publishes what the new code makes of them."""
    import orchestration.state as state
    from tiering.config import get_paths

    for department in DEPARTMENTS:
        deliver(home / "landing", department, "2025-03-31")
    (home / "serving.duckdb").touch()
    paths, period = get_paths(), date(2025, 3, 31)
    state.record_refresh(paths, period, "run-1")
    assert not state.nothing_to_do(paths, period)  # no build database: build it again
    tier_history(home, "2025-02-28")
    assert not state.nothing_to_do(paths, period)  # the history ends before it (a failed
    tier_history(home, "2025-02-28", "2025-03-31")  # backfill deleted the month)
    assert state.nothing_to_do(paths, period)
    released = state.code_digest() + "-next"
    monkeypatch.setattr(state, "code_digest", lambda: released)
    assert not state.nothing_to_do(paths, period)
    state.record_refresh(paths, period, "run-2")
    assert state.nothing_to_do(paths, period)
    # a state written before the code digest existed: refreshed once
    saved = json.loads(state._state_file(paths).read_text())
    del saved["code"]
    state.write_state(state._state_file(paths), saved)
    assert not state.nothing_to_do(paths, period)


# -- sensors -----------------------------------------------------------------------------------

def test_sensor_requests_a_refresh_only_when_all_six_manifests_exist(
        defs: dg.Definitions, home: Path) -> None:
    sensor = defs.resolve_sensor_def("complete_delivery_sensor")
    landing = home / "landing"
    for department in DEPARTMENTS[:-1]:
        deliver(landing, department, "2025-04-30")
    deliver(landing, DEPARTMENTS[-1], "2025-04-30", manifest=False)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        assert not sensor.evaluate_tick(context).run_requests
        deliver(landing, DEPARTMENTS[-1], "2025-04-30")
        result = sensor.evaluate_tick(context)
        [request] = result.run_requests
        assert request.run_key == "complete-2025-04-30"
        assert request.run_config["resources"]["tiering"]["config"]["as_of_date"] == "2025-04-30"
        assert result.cursor == "2025-04-30"
        # the same period never triggers twice
        again = dg.build_sensor_context(instance=instance, cursor=result.cursor)
        assert not sensor.evaluate_tick(again).run_requests


def test_run_failure_sensor_records_an_alert(defs: dg.Definitions, home: Path) -> None:
    @dg.op
    def breaks() -> None:
        raise RuntimeError("disk on fire")

    @dg.job(tags={"tiering/as_of": "2025-05-31"})
    def doomed() -> None:
        breaks()

    sensor = defs.resolve_sensor_def("alert_on_run_failure")
    with dg.DagsterInstance.ephemeral() as instance:
        result = doomed.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"
                       or e.event_type_value == "RUN_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run).for_run_failure()
        sensor(context)
    with duckdb.connect(str(home / "ops.duckdb"), read_only=True) as con:
        [(job, as_of, message)] = con.sql(
            "select job_name, as_of_date, message from pipeline_alerts").fetchall()
    assert (job, as_of) == ("doomed", "2025-05-31")
    assert "disk on fire" in message


def test_dbt_resource_skips_the_version_subprocess_and_the_in_process_adapter(
        defs: dg.Definitions, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both overrides replace private dagster-dbt members: fail loudly if an upgrade renames
    them (the refresh would silently pay a `dbt --version` and a project load per dbt step)."""
    from importlib.metadata import version

    import dagster_dbt.core.resource as dbt_resource
    from dagster_dbt import DbtCliResource

    from orchestration.project import TieringDbtCliResource, dbt_executable
    from orchestration.resources import RESOURCES

    assert hasattr(DbtCliResource, "_cli_version")
    assert hasattr(DbtCliResource, "_initialize_dbt_core_adapter")
    assert isinstance(RESOURCES["dbt"], TieringDbtCliResource)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt started: {args}")

    monkeypatch.setattr(dbt_resource, "check_output", no_subprocess)
    resource = TieringDbtCliResource(project_dir=str(Path(__file__).parent.parent),
                                     dbt_executable=dbt_executable())
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_the_dbt_resource_starts_dbt_warm(monkeypatch: pytest.MonkeyPatch) -> None:
    """dagster-dbt starts tiering-dbt, with this process's warm dbt server running and named
    in the environment it hands to dbt (tiering/dbt_warm.py; tests/test_dbt_warm.py shows what
    the fork does)."""
    from dagster_dbt import DbtCliResource

    from orchestration.project import TieringDbtCliResource, dbt_executable
    from tiering.dbt_warm import SOCKET_ENVIRONMENT

    assert Path(dbt_executable()).name == "tiering-dbt"
    seen: dict[str, str | None] = {}

    def cli(self, args, **kwargs):
        seen["server"] = os.environ.get(SOCKET_ENVIRONMENT)
        return "started"

    monkeypatch.setattr(DbtCliResource, "cli", cli)
    monkeypatch.delenv(SOCKET_ENVIRONMENT, raising=False)
    resource = TieringDbtCliResource(project_dir=str(Path(__file__).parent.parent),
                                     dbt_executable=dbt_executable())
    assert resource.cli(["build"]) == "started"
    assert seen["server"] and Path(seen["server"]).is_socket()


def test_refresh_dbt_builds_leave_unit_tests_to_ci() -> None:
    from orchestration.assets.dbt import BUILD_FLAGS

    assert list(BUILD_FLAGS) == ["--exclude-resource-type", "unit_test"]


def test_old_dbt_invocation_folders_are_pruned(tmp_path: Path) -> None:
    import time as clock

    from tiering.pipeline import prune_dbt_targets

    day = 86_400
    for age, run in enumerate(["aaaaaaa", "bbbbbbb", "ccccccc", "ddddddd", "eeeeeee"]):
        for step in ("warehouse_dbt_assets", "warehouse_dbt_assets_2"):
            folder = tmp_path / f"{step}-{run}-1234567"
            folder.mkdir()
            (folder / "dbt.log").write_text("")
            stamp = clock.time() - (5 - age) * day  # aaaaaaa: 5 days old ... eeeeeee: 1 day
            os.utime(folder, (stamp, stamp))
    (tmp_path / "manifest.json").write_text("{}")
    recent = tmp_path / "warehouse_dbt_assets-fffffff-1234567"  # a run of today
    recent.mkdir()
    (recent / "dbt.log").write_text("")
    prune_dbt_targets(keep_runs=3, keep_days=1.5, target=tmp_path)
    runs = sorted({p.name.rsplit("-", 2)[-2] for p in tmp_path.glob("*-*-*")})
    assert runs == ["ddddddd", "eeeeeee", "fffffff"]
    assert (tmp_path / "manifest.json").exists()


def test_statement_sizes_reach_dbt_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.project import dbt_vars

    monkeypatch.delenv("TIERING_PERIODS_PER_STATEMENT", raising=False)
    monkeypatch.delenv("TIERING_TIER_ROWS_PER_STATEMENT", raising=False)
    assert json.loads(dbt_vars()) == {}  # the as-of date is not a var: see the next test
    monkeypatch.setenv("TIERING_PERIODS_PER_STATEMENT", "1")
    assert json.loads(dbt_vars()) == {"tiering_periods_per_statement": 1}
    monkeypatch.setenv("TIERING_TIER_ROWS_PER_STATEMENT", "5000000")
    assert json.loads(dbt_vars()) == {
        "tiering_periods_per_statement": 1, "tiering_tier_rows_per_statement": 5000000}
    monkeypatch.setenv("TIERING_PERIODS_PER_STATEMENT", "two")
    with pytest.raises(ValueError, match="TIERING_PERIODS_PER_STATEMENT must be a whole number"):
        dbt_vars()


def test_the_as_of_date_reaches_dbt_in_the_environment_of_one_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dbt step sees the run's date in TIERING_AS_OF_DATE (macros/as_of_date.sql; the dbt side
    in tests/test_as_of_date.py), and the process gets back what it had: a worker that runs two
    refreshes never hands the first one's date to the second."""
    from orchestration.project import as_of_environment

    monkeypatch.delenv("TIERING_AS_OF_DATE", raising=False)
    with as_of_environment(date(2026, 10, 31)):
        assert os.environ["TIERING_AS_OF_DATE"] == "2026-10-31"
    assert "TIERING_AS_OF_DATE" not in os.environ
    monkeypatch.setenv("TIERING_AS_OF_DATE", "2025-01-31")
    with pytest.raises(RuntimeError), as_of_environment(date(2026, 10, 31)):
        assert os.environ["TIERING_AS_OF_DATE"] == "2026-10-31"
        raise RuntimeError("the step failed")
    assert os.environ["TIERING_AS_OF_DATE"] == "2025-01-31"


def test_fallback_period_after_a_rejected_delivery(home: Path) -> None:
    """`tiering refresh` without --as-of falls back to the latest period whose deliveries all
    loaded when the latest complete period's refusal came from a delivery that did not load
    (tiering/pipeline.py, fallback_period); not when every delivery loaded (the refusal had
    another cause), and not past a period that is itself broken."""
    from ingest_fixtures import make_landing, set_manifest_rows

    from tiering.config import Paths
    from tiering.ingest import ingest
    from tiering.pipeline import fallback_period

    paths = Paths(home=home)
    sep, octo, nov = date(2025, 9, 30), date(2025, 10, 31), date(2025, 11, 30)
    assert fallback_period(paths, nov) is None  # nothing ingested: no word on any delivery
    make_landing(paths.landing, [sep, octo, nov], n=6)
    set_manifest_rows(paths.landing / "finance" / nov.isoformat(), "receipts.csv", 99)
    set_manifest_rows(paths.landing / "risk" / octo.isoformat(), "risk_events.jsonl", 99)
    ingest(paths)
    assert fallback_period(paths, nov) == sep  # October's risk delivery was rejected too
    assert fallback_period(paths, sep) is None  # September loaded: refused for another cause
    set_manifest_rows(paths.landing / "risk" / octo.isoformat(), "risk_events.jsonl", 6)
    ingest(paths)  # October's risk re-delivered, now whole
    assert fallback_period(paths, nov) == octo


def test_refresh_of_a_past_month_under_later_history_is_refused_clearly(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`tiering refresh --as-of` a month before the newest period of the tier history would
    rebuild it under months that continue from it (a dbt test then failed on the migrations):
    refused up front, naming the backfill that rebuilds it; nothing runs."""
    import tiering.pipeline as pipeline

    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.client_tiers as select date '2025-02-28' as period_date")
    calls: list[date] = []
    monkeypatch.setattr(pipeline, "run_job",
                        lambda job, as_of: calls.append(as_of) or (True, "run-1", ""))
    assert pipeline.refresh(date(2025, 1, 31)) == 1
    assert calls == []
    assert "tiering backfill --from 2025-01 --to 2025-02 --restate" in capsys.readouterr().err
    assert pipeline.refresh(date(2025, 2, 28)) == 0  # the newest period itself runs
    assert calls == [date(2025, 2, 28)]


def test_refresh_names_folders_it_does_not_read(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A month left incomplete by a misnamed folder: the refresh of the month before says why
    the newest month is not refreshed."""
    import tiering.pipeline as pipeline

    for department in DEPARTMENTS:
        deliver(home / "landing", department, "2025-01-31")
        deliver(home / "landing", department,
                "2025-02-28" if department != "risk" else "2025-02-28 (2)")
    calls: list[date] = []
    monkeypatch.setattr(pipeline, "run_job",
                        lambda job, as_of: calls.append(as_of) or (True, "run-1", ""))
    assert pipeline.refresh() == 0
    assert calls == [date(2025, 1, 31)]
    assert ("warning: risk/2025-02-28 (2): has a _manifest.json but its name is not the extract "
            "date (YYYY-MM-DD); not read") in capsys.readouterr().out


def test_the_fallback_never_replaces_a_newer_serving_copy(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A month already published and then re-delivered broken: the refresh of it is refused and
    the fallback to the month before is not taken (it would publish an older copy over it)."""
    import tiering.pipeline as pipeline
    from orchestration.state import write_state

    for department in DEPARTMENTS:
        deliver(home / "landing", department, "2025-02-28")
    write_state(home / "state" / "last_refresh.json", {"as_of_date": "2025-02-28"})
    calls: list[date] = []
    monkeypatch.setattr(pipeline, "nothing_to_do", lambda paths, as_of: False)
    monkeypatch.setattr(pipeline, "fallback_period", lambda paths, refused: date(2025, 1, 31))
    monkeypatch.setattr(pipeline, "run_job",
                        lambda job, as_of: calls.append(as_of) or (False, "run-1", "boom"))
    assert pipeline.refresh() == 1
    assert calls == [date(2025, 2, 28)]
    assert "the serving copy stays as of 2025-02-28" in capsys.readouterr().out


HOLDER = """
import sys, time
from tiering.config import get_paths
from tiering import runlock

hold = runlock.held_by_command if sys.argv[1] == "command" else runlock.step_guard
args = (get_paths(), "refresh --as-of 2025-02-28") if sys.argv[1] == "command" else (get_paths(),)
with hold(*args):
    print("held", flush=True)
    time.sleep(120)
"""


TOUCHED: list[bool] = []


@dg.asset
def touches_the_home(tiering: TieringResource) -> None:
    TOUCHED.append(True)


def _holding(home: Path, kind: str):
    """A child process holding the home's run lock, as a command or as a Dagster step."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", HOLDER, kind], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "TIERING_HOME": str(home)})
    assert child.stdout.readline().strip() == "held"
    return child


def test_one_run_at_a_time_per_home(home: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    """A command while another command holds the home: refused at once with EXIT_BUSY, naming the
    holder, nothing run (before, the second run failed half-way on DuckDB's lock, or made the
    first fail, and both wrote one log file). The same while a Dagster-launched step holds it;
    a Dagster run's step is refused while a command holds it. A killed holder frees the home."""
    import signal

    import tiering.pipeline as pipeline
    from tiering.runlock import EXIT_BUSY

    for department in DEPARTMENTS:
        deliver(home / "landing", department, "2025-02-28")
    calls: list[date] = []
    monkeypatch.setattr(pipeline, "run_job",
                        lambda job, as_of: calls.append(as_of) or (True, "run-1", ""))

    command = _holding(home, "command")
    try:
        assert pipeline.refresh() == EXIT_BUSY
        err = capsys.readouterr().err
        assert f"`tiering refresh --as-of 2025-02-28` (PID {command.pid}" in err, err
        assert pipeline.backfill("2025-01", "2025-02") == EXIT_BUSY
        from tiering import cli

        assert cli.main(["ingest"]) == EXIT_BUSY  # the raw layer is not written under it
        assert not (home / "raw" / "_ingestion_log.parquet").exists()
        assert pipeline.restate("2025-02", "2025-02") == EXIT_BUSY
        assert calls == []

        result = dg.materialize([touches_the_home], resources={"tiering": TieringResource()},
                                raise_on_error=False)
        assert not result.success and not TOUCHED
        errors = [event.event_specific_data.error for event in result.all_events
                  if event.is_failure and getattr(event.event_specific_data, "error", None)]
        assert any("another run" not in e.to_string() and "this run stops before touching it"
                   in e.to_string() and f"PID {command.pid}" in e.to_string()
                   for e in errors), [e.to_string() for e in errors]
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()

    step = _holding(home, "step")
    try:
        assert pipeline.refresh() == EXIT_BUSY
        assert "a run launched by Dagster" in capsys.readouterr().err
    finally:
        step.send_signal(signal.SIGKILL)
        step.wait()

    # killed holders leave nothing behind: the command runs, and a backfill's own refresh of
    # its last month does not lock itself out
    assert pipeline.refresh(date(2025, 2, 28), force=True) == 0
    assert pipeline.backfill("2025-02", "2025-02") == 0
    assert calls == [date(2025, 2, 28), date(2025, 2, 28)]
    assert (home / "state" / "run.lock").read_text() == ""
    assert dg.materialize([touches_the_home], resources={"tiering": TieringResource()}).success
    assert TOUCHED == [True]


def test_status_says_what_state_the_home_is_in(home: Path, capsys: pytest.CaptureFixture) -> None:
    """`tiering status`, read-only: complete and incomplete months, folders being delivered or not
    read, the tier history, what is published and why the next refresh would run, who holds the
    home now, the last alerts."""
    import signal

    from orchestration.state import record_alert, record_refresh
    from tiering import cli
    from tiering.config import get_paths

    for department in DEPARTMENTS:
        deliver(home / "landing", department, "2025-01-31")
        deliver(home / "landing", department, "2025-02-28")
    deliver(home / "landing", "crm", "2025-03-31")
    deliver(home / "landing", "risk", "2025-03-31", manifest=False)
    deliver(home / "landing", "finance", "2025-03-31 copy")

    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "running now:       nothing" in out
    assert "complete months 2025-01 … 2025-02 (2)" in out
    assert "2025-03 waits for finance, risk, projects, service, external" in out
    assert "being delivered:   risk/2025-03-31: no _manifest.json yet" in out
    assert "not read:          finance/2025-03-31 copy: has a _manifest.json" in out
    assert "ingestion:         nothing ingested yet" in out
    assert "build database:    " in out and "not built yet" in out
    assert "published:         nothing yet" in out
    assert "next refresh:      would refresh as of 2025-02-28: nothing is published yet" in out

    tier_history(home, "2025-01-31", "2025-02-28")
    (home / "serving.duckdb").touch()
    record_refresh(get_paths(), date(2025, 2, 28), "run-7")
    record_alert(get_paths(), run_id="run-6", job_name="refresh", as_of="2025-02-28",
                 message="step gx_raw: boom")
    holder = _holding(home, "command")
    try:
        assert cli.main(["status"]) == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    out = capsys.readouterr().out
    assert f"running now:       `tiering refresh --as-of 2025-02-28` (PID {holder.pid}" in out
    assert "tier history 2025-01 … 2025-02 (2 periods)" in out
    assert "published:         as of 2025-02-28" in out and "(run run-7)" in out
    assert "next refresh:      nothing to do (2025-02-28 is published" in out
    assert "refresh as of 2025-02-28: step gx_raw: boom" in out
    assert "identity review" not in out  # a serving file without the queue: nothing said

    # the data stewards' worklist, as published
    (home / "serving.duckdb").unlink()
    with duckdb.connect(str(home / "serving.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("""create table marts.identity_review_queue as select * from (values
            (1, 'same_uscc_other_name'), (2, 'same_name_two_places'),
            (2, 'same_name_two_places')) t(review_priority, review_reason)""")
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert ("identity review:   3 pairs of records to settle (1 same_uscc_other_name, "
            "2 same_name_two_places) in identity_review_queue") in out
    assert "decisions:         0 in seeds/identity/identity_decisions.csv\n" in out
    # and whether the published version honours the stewards' decisions (its dbt warning test)
    with duckdb.connect(str(home / "serving.duckdb")) as con:
        con.execute("""create table main.quality_results as select * from (values
            (1, 'dbt', 'identity_decisions_honoured (seeds/identity_decisions)', true, '0'),
            (2, 'dbt', 'identity_decisions_honoured (seeds/identity_decisions)', false, '2'))
            t(version, suite, expectation, success, observed)""")
    assert cli.main(["status"]) == 0
    assert ("decisions:         0 in seeds/identity/identity_decisions.csv; 2 not honoured by "
            "the published version") in capsys.readouterr().out


def test_dbt_tests_of_the_run_become_quality_rows_and_warnings_are_named() -> None:
    """The serving asset hands dbt's data tests to publish with the GX expectations, so the
    publish log and the report show them; a warning (a code outside the contract) is named."""
    from orchestration.assets.serving import dbt_test_rows

    def evaluation(check: str, passed: bool, severity: dg.AssetCheckSeverity, failed=None):
        metadata = {} if failed is None else {
            "dagster_dbt/failed_row_count": dg.MetadataValue.int(failed)}
        return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(["staging", "stg_crm__clients"]),
                                       check_name=check, passed=passed, severity=severity,
                                       metadata=metadata)

    rows = dbt_test_rows([
        evaluation("gx_raw", True, dg.AssetCheckSeverity.ERROR),  # a GX layer: not a dbt test
        evaluation("not_null_stg_crm__clients_crm_id", True, dg.AssetCheckSeverity.ERROR),
        evaluation("accepted_values_stg_crm__clients_client_type", False,
                   dg.AssetCheckSeverity.WARN, failed=1),
        evaluation("not_null_columns_stg_crm__clients_crm_id__uscc_status", False,
                   dg.AssetCheckSeverity.WARN, failed=2),
    ])
    assert [(r["suite"], r["success"], r["blocking"]) for r in rows] == [
        ("dbt", True, True), ("dbt", False, False), ("dbt", False, False)]
    assert rows[1]["expectation"] == (
        "accepted_values_stg_crm__clients_client_type (staging/stg_crm__clients)")
    assert rows[1]["message"] == "1 failing rows (dbt test)" and rows[1]["observed"] == 1
    assert rows[2]["message"] == "2 columns hold NULLs (dbt test; its rows name them)"


def test_steps_freeze_what_survives_until_the_run_ends() -> None:
    """release_memory (after every Python step) collects, then freezes the survivors, so later
    collections skip the imported modules; the run unfreezes them when it ends, and garbage
    cycles made in between are collected again."""
    import weakref

    from tiering.config import release_memory
    from tiering.pipeline import _frozen_objects_released

    class Node:
        pass

    gc.unfreeze()
    with _frozen_objects_released():
        release_memory()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the modules pytest, dagster and duckdb brought
        cycle = Node()
        cycle.me = cycle
        alive = weakref.ref(cycle)
        assert any(o is cycle for o in gc.get_objects())  # young: collections scan it
        release_memory()  # the cycle is still referenced: frozen with the rest
        # (checked on the object itself: the frozen count is net of frozen objects that
        # reference counting frees meanwhile, so it can stay level)
        assert not any(o is cycle for o in gc.get_objects())
        del cycle
        gc.collect()
        assert alive() is not None, "a frozen cycle is not collected while the run lasts"
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None, "unfrozen when the run ended, the cycle is collected"
