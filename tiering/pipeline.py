"""`tiering refresh`, `tiering backfill` and `tiering serve`.

Refresh and backfill execute the Dagster jobs of `orchestration/` in-process, so the command line,
the schedules and the sensor run the same definitions. Command-line runs use an in-memory Dagster
instance (fast); `tiering serve` and TIERING_DAGSTER_PERSIST=1 use `$TIERING_HOME/dagster`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.deliveries import (complete_deliveries, complete_periods,
                                      latest_complete_period, month_ends)
from orchestration.state import nothing_to_do, record_alert, step_failure_text, tier_history
from tiering.config import PROJECT_DIR, Paths, get_paths
from tiering.contract import DEPARTMENTS
from tiering.dbt_warm import ensure_server
from tiering.ingest.landing import unread_folders
from tiering.runlock import EXIT_BUSY, HomeBusy, held_by_command

# Instance settings for `tiering serve` and command-line runs (docs/operations.md).
DAGSTER_YAML = """\
# Written by `tiering serve` / `tiering refresh` (tiering/pipeline.py); see docs/operations.md.
telemetry:
  enabled: false
nux:
  enabled: false
# One writer: every step that touches warehouse.duckdb is in pool `warehouse_writer`.
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 2
# Re-launch a run whose worker died; a failed check or model is not retried (it would fail again).
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""


def dagster_home(paths: Paths) -> Path:
    home = paths.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def _say(message: str) -> None:
    print(message, flush=True)


def _fail(message: str) -> int:
    print(f"tiering: {message}", file=sys.stderr, flush=True)
    return 1


def _missing_departments(paths: Paths, as_of: date) -> list[str]:
    delivered = {d.department for d in complete_deliveries(paths.landing, as_of)
                 if (d.extract_date.year, d.extract_date.month) == (as_of.year, as_of.month)}
    return [d for d in DEPARTMENTS if d not in delivered]


def _period_loaded(paths: Paths, period: date, status: dict) -> bool:
    """Every department's newest complete delivery in the month of `period` is `loaded` by the
    ingestion log's newest word on it (`status`: (department, extract_date) -> status)."""
    newest: dict[str, date] = {}
    for delivery in complete_deliveries(paths.landing, period):
        if (delivery.extract_date.year, delivery.extract_date.month) == (period.year,
                                                                          period.month):
            newest[delivery.department] = max(newest.get(delivery.department,
                                                         delivery.extract_date),
                                              delivery.extract_date)
    return set(newest) >= set(DEPARTMENTS) and all(
        status.get((department, day)) == "loaded" for department, day in newest.items())


def _one_run_at_a_time(describe):
    """Hold the home for the command's whole duration (tiering/runlock.py): another command or
    Dagster run on the same home makes it return EXIT_BUSY within about a second, naming the
    holder."""
    def wrap(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            try:
                with held_by_command(get_paths(), describe(*args, **kwargs)):
                    return command(*args, **kwargs)
            except HomeBusy as busy:
                _fail(str(busy))
                return EXIT_BUSY
        return run
    return wrap


def _month_range(start: str, end: str, **_) -> str:
    return f"--from {start} --to {end}"


def fallback_period(paths: Paths, refused: date) -> date | None:
    """When the latest complete period was refused because one of its deliveries did not load
    (rejected: a broken file or manifest), the latest earlier period whose deliveries all
    loaded; None when the refusal had another cause or no such period exists. It lets a first
    refresh on a landing zone whose newest month holds a broken delivery publish the newest
    complete data instead of nothing (docs/operations.md)."""
    from tiering.ingest.store import read_log

    status: dict[tuple[str, date], str] = {}
    logged: dict[tuple[str, date], object] = {}
    for row in read_log(paths).to_pylist():
        key = (row["department"], row["extract_date"])
        if key not in logged or row["logged_at"] >= logged[key]:
            logged[key], status[key] = row["logged_at"], row["status"]
    if not status or _period_loaded(paths, refused, status):
        return None
    for period in reversed(complete_periods(paths.landing, refused)):
        if period < refused and _period_loaded(paths, period, status):
            return period
    return None


def failure_message(result) -> str:
    """Which steps failed and which expectations, from a finished run's events."""
    checks: dict[str, list[str]] = {}  # failure detail -> the assets it was reported on
    steps: list[str] = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                failing = evaluation.metadata.get("dagster_dbt/failed_row_count")
                detail = evaluation.description or (
                    f"dbt test, {failing.value} failing rows" if failing else "dbt test failed")
                checks.setdefault(f"{evaluation.check_name} failed: {detail}", []).append(
                    evaluation.asset_key.to_user_string())
        elif event.is_step_failure:
            text = step_failure_text(event)
            if "blocking asset check" not in text:  # already named by its check above
                steps.append(f"step {text}")
    lines = [f"check {detail.split(' failed: ')[0]} on {', '.join(assets)} failed: "
             f"{detail.split(' failed: ', 1)[1]}" for detail, assets in checks.items()]
    return "\n  ".join(lines + steps) or "the run failed (no step reported an error)"


def process_defaults() -> None:
    """Environment defaults of every pipeline process (set before anything loads OpenMP).

    OMP_WAIT_POLICY=PASSIVE: OpenMP threads (scikit-learn's gradient boosting in the risk model)
    sleep instead of spinning while they wait; on a busy two-core machine the spinning made the
    risk model step ~10x slower (docs/benchmarks.md, "Demo refresh").

    DBT_LOG_FORMAT_FILE=debug, DBT_USE_COLORS_FILE=false: dagster-dbt sets DBT_LOG_FORMAT=json
    for the events it reads from dbt's output, and dbt then writes its debug file log
    (target/<step>/dbt.log) as JSON too: 12 MB a step at demo scale, each line a protobuf turned
    into JSON. As dbt's own text (timestamp, thread, message, the SQL as it ran) the file is
    2.7 MB and readable, and a warm demo refresh takes about 5 % less CPU (docs/benchmarks.md,
    "Demo refresh")."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("DBT_LOG_FORMAT_FILE", "debug")
    os.environ.setdefault("DBT_USE_COLORS_FILE", "false")


def step_timings(instance, run_id: str) -> dict:
    """Seconds per Dagster step and per Great Expectations suite of one finished run."""
    import dagster as dg

    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    suites: dict[str, float] = {}
    first = last = None
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        first = record.timestamp if first is None else first
        last = record.timestamp
        if event is None or not event.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS,
                                  dg.DagsterEventType.STEP_FAILURE):
            steps[event.step_key] = round(record.timestamp - started.get(event.step_key,
                                                                          record.timestamp), 2)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            seconds = event.event_specific_data.metadata.get("suite_seconds")
            if seconds is not None:
                suites.update(json.loads(seconds.value))
    return {"run_id": run_id, "run_s": round((last or 0) - (first or 0), 2),
            "steps_s": steps, "gx_suites_s": dict(sorted(suites.items(), key=lambda kv: -kv[1]))}


def _write_json(target: Path, data: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temp, target)


def prune_dbt_targets(keep_runs: int = 3, keep_days: float = 1.0,
                      target: Path | None = None) -> None:
    """dagster-dbt gives every dbt invocation its own folder under the target path (~50 MB at demo
    scale: compiled SQL, manifest, run_results.json). Delete the folders of runs that are neither
    among the newest `keep_runs` nor younger than `keep_days` (a backfill keeps all its months)."""
    from orchestration.project import dbt_project

    target = target or Path(dbt_project.project_dir, dbt_project.target_path)
    by_run: dict[str, list[Path]] = {}
    for folder in target.glob("*-*-*"):  # <step>-<run id[:7]>-<uuid[:7]>
        if folder.is_dir() and (folder / "dbt.log").exists():
            by_run.setdefault(folder.name.rsplit("-", 2)[-2], []).append(folder)
    newest = {run: max(f.stat().st_mtime for f in group) for run, group in by_run.items()}
    ordered = sorted(by_run, key=newest.__getitem__)
    cutoff = time.time() - keep_days * 86_400
    for run in ordered[:-keep_runs] if keep_runs else ordered:
        if newest[run] < cutoff:
            for folder in by_run[run]:
                shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _frozen_objects_released():
    """The objects the steps froze (`tiering.config.release_memory`) are collectable again
    once the run ends: a backfill runs one job a month in one process."""
    try:
        yield
    finally:
        gc.unfreeze()


def run_job(job_name: str, as_of: date) -> tuple[bool, str, str]:
    """Execute one job of the code location in-process; (success, run_id, failure message).

    Dagster's and dbt's output (events, dbt log lines, tracebacks, a `dbt parse` when the manifest
    is stale) goes to $TIERING_HOME/logs/<job>-<as-of>.log; the terminal gets a summary. Seconds
    per step and per GX suite go to $TIERING_HOME/state/step_timings.json."""
    process_defaults()
    paths = get_paths()
    os.environ.setdefault("TIERING_HOME", str(paths.home))  # dbt (profiles.yml) reads it too
    ensure_server()  # dbt imported once, beside ingestion, for every dbt command of the run
    import dagster as dg

    log_file = paths.home / "logs" / f"{job_name}-{as_of.isoformat()}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    run_config = {"loggers": {"console": {"config": {
        "log_level": os.environ.get("TIERING_LOG_LEVEL", "INFO")}}}}
    # In-memory instance: a persistent one writes hundreds of planned-materialization events to
    # SQLite before the first step starts. Set TIERING_DAGSTER_PERSIST=1 to see CLI runs in the UI.
    instance = (dg.DagsterInstance.from_config(str(dagster_home(paths)))
                if os.environ.get("TIERING_DAGSTER_PERSIST") == "1"
                else dg.DagsterInstance.ephemeral())
    with (instance, open(log_file, "w", encoding="utf-8") as log,
          contextlib.redirect_stdout(log), contextlib.redirect_stderr(log),
          _frozen_objects_released()):
        from orchestration.project import ensure_manifest

        ensure_manifest()  # parsed with every run's vars, so dbt build reuses the parse
        from orchestration.definitions import defs
        from orchestration.resources import tiering_run_config

        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config={**tiering_run_config(as_of), **run_config},
            instance=instance,
            tags={"tiering/as_of": as_of.isoformat(), "tiering/trigger": "cli"},
            raise_on_error=False,
        )
        timings = {"job": job_name, "as_of_date": as_of.isoformat(), "success": result.success,
                   **step_timings(instance, result.run_id)}
        print(f"step timings: {json.dumps(timings, ensure_ascii=False)}")
    _write_json(paths.state / "step_timings.json", timings)
    prune_dbt_targets()
    if result.success:
        return True, result.run_id, ""
    message = failure_message(result) + f"\n  full log: {log_file}"
    record_alert(paths, run_id=result.run_id, job_name=job_name, as_of=as_of.isoformat(),
                 message=message)
    return False, result.run_id, message


@_one_run_at_a_time(lambda as_of=None, **_: "refresh" + (f" --as-of {as_of}" if as_of else ""))
def refresh(as_of: date | None = None, *, force: bool = False, job: str = "refresh") -> int:
    """Ingest, build, check, publish and report as of `as_of` (default: latest complete period).
    `job="retier"`: the same without ingestion and the unified client view (a restate whose
    unified view is current)."""
    started = time.monotonic()
    paths = get_paths()
    for folder in unread_folders(paths.landing):
        _say(f"warning: {folder}")
    target = as_of or latest_complete_period(paths.landing)
    if target is None:
        return _fail(f"nothing to refresh: no period in {paths.landing} has a complete delivery "
                     f"(with _manifest.json) from every department ({', '.join(DEPARTMENTS)})")
    if not force and nothing_to_do(paths, target):
        _say(f"Nothing to do: {target} is already published and neither a delivery up to it "
             f"nor the code changed.\n  serving database: {paths.serving}")
        return 0
    newest = _newest_tier_period(paths) if as_of is not None and not force else None
    if newest is not None and newest > target:
        return _fail(
            f"the build database's tier history already holds periods up to {newest}, after "
            f"{target}. A month's tiers continue from the month before and later months from "
            f"it (docs/dynamics.md), so a past month is rebuilt with its followers, in one run: "
            f"`tiering backfill --from {target:%Y-%m} --to {newest:%Y-%m} --restate`. Nothing "
            "was changed.")
    missing = _missing_departments(paths, target)
    if missing:
        _say(f"warning: no complete delivery in {target:%Y-%m} from {', '.join(missing)}; "
             "their latest earlier deliveries are used")
    _say(f"Refreshing as of {target} (landing zone {paths.landing}) ...")
    ok, run_id, message = run_job(job, target)
    if not ok:
        code = _fail(f"{job} as of {target} FAILED (run {run_id}); the serving database and "
                     f"report were left as they were.\n  {message}")
        fallback = fallback_period(paths, target) if as_of is None and job == "refresh" else None
        _, latest_published = _publish_choice(paths, target, None)
        if fallback is not None and latest_published is not None \
                and latest_published > fallback:
            # a published month re-delivered broken: the past never replaces a newer copy
            _say(f"{target:%Y-%m} has a delivery that did not load; the serving copy stays as "
                 f"of {latest_published}.")
            fallback = None
        if fallback is not None:
            _say(f"{target:%Y-%m} has a delivery that did not load; {fallback} is the latest "
                 f"period whose deliveries all loaded: refreshing it, so that BI has the newest "
                 f"complete data (the exit code stays 1: {target} is not published).")
            # the refused run's periods leave the build database first: a build as of an
            # earlier month must not find later ones (docs/operations.md)
            for line in _clear_refused_periods(paths, fallback):
                _say(f"  {line}")
            refresh(fallback, job=job)
        return code
    _say(f"Refreshed as of {target} in {time.monotonic() - started:.0f} s (run {run_id}).\n"
         f"  serving database (BI, read-only): {paths.serving}\n"
         f"  Parquet exports:                  {paths.exports}\n"
         f"  report:                           {paths.reports / target.isoformat()}\n"
         f"  build database:                   {paths.warehouse}\n"
         f"  Dagster UI:                       tiering serve")
    return 0


def _newest_tier_period(paths: Paths) -> date | None:
    """The newest period of marts.client_tiers in the build database (None if none yet, or the
    database is busy)."""
    return tier_history(paths).last


def _incomplete_months(paths: Paths, months: list[date]) -> str | None:
    """Which of `months` lack a complete delivery (with its manifest) from some department, said
    for a message; None when every month has all six."""
    complete = set(complete_periods(paths.landing))
    missing = [month for month in months if month not in complete]
    if not missing:
        return None
    first = min(complete, default=None)
    return (f"no complete delivery from every department ({', '.join(DEPARTMENTS)}) for "
            + ", ".join(f"{month:%Y-%m}" for month in missing)
            + (f" (the landing zone's first complete month is {first:%Y-%m})" if first else
               f" (the landing zone {paths.landing} holds no complete month)"))


def _publish_choice(paths: Paths, last: date, publish: bool | None) -> tuple[bool, date | None]:
    """Whether a backfill publishes its last month (default: only when it is not older than the
    latest published period, so the past never replaces a newer serving copy), and that
    period."""
    from orchestration.state import last_refresh

    published = last_refresh(paths)
    latest_published = date.fromisoformat(published["as_of_date"]) if published else None
    if publish is None:
        publish = latest_published is None or last >= latest_published
    return publish, latest_published


@_one_run_at_a_time(lambda *args, **kwargs: f"backfill {_month_range(*args, **kwargs)}")
def backfill(start: str, end: str, *, publish: bool | None = None) -> int:
    """Build tier history month by month, from 'YYYY-MM' to 'YYYY-MM', in order.

    Every month but the last runs the `build` job (ingest up to the month, dbt around the risk
    model, the gates) as of its month end; the last month runs `refresh` (also publish and
    report) when it is at least the latest published period, else `build` too, so that
    backfilling past months never replaces a newer serving copy with an older one
    (`publish=True/False` forces the choice). The tier of a month depends on the month before
    (the stability rule, docs/dynamics.md): months are built in order. Months the history already
    holds are deleted from every period table first (as `restate` does), so that a rebuilt month
    never sits under stored later months that continued from its old version; a range that ends
    before the newest stored month is refused, naming the range that rebuilds it with its
    followers."""
    try:
        months = month_ends(start, end)
    except ValueError as error:
        return _fail(str(error))
    paths = get_paths()
    incomplete = _incomplete_months(paths, months)
    if incomplete:
        return _fail(f"{incomplete}: each month of a backfill is built from its own deliveries "
                     "(the raw gate requires every department's). Nothing was changed.")
    newest = _newest_tier_period(paths)
    if newest is not None and newest > months[-1]:
        return _fail(f"the history already holds months up to {newest:%Y-%m}, which continue "
                     f"from the months rebuilt here (docs/dynamics.md): backfill through them "
                     f"(--to {newest:%Y-%m}). Nothing was changed.")
    publish, latest_published = _publish_choice(paths, months[-1], publish)
    started = time.monotonic()
    cleared = newest is not None and newest >= months[0]
    if cleared:
        _say(f"The history already holds months from {months[0]:%Y-%m} on: they are deleted "
             "first and rebuilt month by month.")
        for line in _clear_periods_from(paths, date(months[0].year, months[0].month, 1),
                                        months[-1]):
            _say(f"  {line}")
    seconds: list[float] = []
    for number, period in enumerate(months, start=1):
        month_started = time.monotonic()
        last = number == len(months)
        if last and publish:
            _say(f"Backfill {number}/{len(months)}: refreshing {period:%Y-%m} "
                 "(publish and report) ...")
            code = refresh(period, force=True)
            if code != 0:
                return code
        else:
            _say(f"Backfill {number}/{len(months)}: building {period:%Y-%m} ...")
            ok, run_id, message = run_job("build", period)
            if not ok:
                held = _newest_tier_period(paths)
                now = (f"now ends at {held:%Y-%m}" if held is not None else "is now empty")
                return _fail(f"backfill stopped at {period:%Y-%m} (run {run_id}); later months "
                             f"were not built"
                             + (f": the tier history {now}, and the next refresh, or this "
                                "command again from the month that failed, builds the months "
                                "after it" if cleared else "")
                             + f".\n  {message}")
        seconds.append(time.monotonic() - month_started)
        _say(f"  {period:%Y-%m} built in {seconds[-1]:.0f} s")
    total = time.monotonic() - started
    _say(f"Backfill of {len(months)} month(s) {months[0]:%Y-%m} to {months[-1]:%Y-%m} done in "
         f"{total:.0f} s (median {statistics.median(seconds):.0f} s a month)."
         + ("" if publish else f"\n  Not published: the serving copy stays as of "
                                f"{latest_published}."))
    return 0


def period_tables() -> list[str]:
    """The tables a tier history is kept in, one row set per period: the dbt models that are
    incremental by period (config unique_key 'period_date', from the manifest) and the risk
    model's scores."""
    from orchestration.project import ensure_manifest
    from tiering.risk_model import SCORES_TABLE

    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    models = sorted(node["relation_name"] for node in manifest["nodes"].values()
                    if node["resource_type"] == "model"
                    and node["config"].get("materialized") == "incremental"
                    and node["config"].get("unique_key") == "period_date")
    return [*models, SCORES_TABLE]


def _clear_periods_from(paths: Paths, first: date, as_of: date) -> list[str]:
    """Delete the periods from `first` on from every period table of the build database (one
    transaction); a table with no period before `first` is dropped instead, so that dbt builds
    it as a first build (and DuckDB does not keep the deleted rows' space). Returns what it did,
    one line per table."""
    import duckdb

    from tiering.risk_model import SCORES_TABLE

    done: list[str] = []
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("begin transaction")
        for table in period_tables():
            try:
                earliest, rows = con.execute(
                    f"select min(period_date), count(*) filter (where period_date >= ?) "
                    f"from {table}", [first]).fetchone()
            except duckdb.CatalogException:
                continue  # not built yet
            if earliest is not None and earliest >= first and table != SCORES_TABLE:
                con.execute(f"drop table {table}")
                done.append(f"{table}: dropped (every period is rebuilt)")
            elif rows:
                con.execute(f"delete from {table} where period_date >= ?", [first])
                done.append(f"{table}: {rows:,} rows from {first:%Y-%m} on deleted")
        con.execute("commit")
    return done


def _clear_refused_periods(paths: Paths, kept: date) -> list[str]:
    """Delete what a refused run built after `kept`: the period tables' later periods and the
    later as-of dates of the cross-reference history."""
    import duckdb

    done = _clear_periods_from(paths, kept + timedelta(days=1), kept)
    with duckdb.connect(str(paths.warehouse)) as con:
        try:
            rows = con.execute("delete from marts.client_xref_history where as_of_date > ?",
                               [kept]).fetchall()[0][0]
        except duckdb.CatalogException:
            rows = 0
    if rows:
        done.append(f"marts.client_xref_history: {rows:,} rows after {kept} deleted")
    return done


def _unified_view_stale(paths: Paths, as_of: date) -> str | None:
    """Why the unified client view must be rebuilt as of `as_of`, or None when it is current."""
    if not paths.warehouse.exists():
        return "there is no build database yet"
    from orchestration import unified_view
    from orchestration.project import ensure_manifest

    process_defaults()
    os.environ.setdefault("TIERING_HOME", str(paths.home))
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    return unified_view.why_not_current(paths, as_of, manifest)


@_one_run_at_a_time(lambda *args, **kwargs: f"backfill --restate {_month_range(*args, **kwargs)}")
def restate(start: str, end: str, *, publish: bool | None = None) -> int:
    """Rebuild the tier history of the months 'YYYY-MM' to 'YYYY-MM' in one run.

    The months' rows are deleted from every period table of the build database (the features,
    dimension scores, risk scores, tiers and monitoring marts), then one `refresh` (or `build`)
    as of the last month rebuilds them all, the earliest first, in the period and client batches
    of a first build; the tiers continue from the stored month before the first. Unlike
    `backfill`, every month is rebuilt with today's identity resolution (client keys, golden
    attributes): what a rule, weight or model change restates. Each month still reads only
    deliveries up to it, and the risk model is refitted as of each month (docs/dynamics.md).

    When the unified client view (staging, identity, client marts) is already built as of the
    last month from the same deliveries and code (orchestration/unified_view.py), the run is
    `retier` / `retier_build` instead: the same without ingestion and the unified view."""
    try:
        months = month_ends(start, end)
    except ValueError as error:
        return _fail(str(error))
    paths = get_paths()
    incomplete = _incomplete_months(paths, months[-1:])
    if incomplete:
        return _fail(f"{incomplete}: the restate runs as of --to, which needs every "
                     "department's delivery. Nothing was changed.")
    newest = _newest_tier_period(paths)
    if newest is not None and newest > months[-1]:
        return _fail(f"--restate rebuilds every month from --from on, and the history already "
                     f"holds months up to {newest:%Y-%m}, which continue from them: restate "
                     f"through them (--to {newest:%Y-%m})")
    publish, latest_published = _publish_choice(paths, months[-1], publish)
    started = time.monotonic()
    first = date(months[0].year, months[0].month, 1)
    stale = _unified_view_stale(paths, months[-1])
    if stale is None:
        _say(f"The unified client view is already built as of {months[-1]} from the same "
             "deliveries and code: it is kept, not rebuilt (orchestration/unified_view.py).")
    else:
        _say(f"The unified client view is rebuilt too: {stale}.")
    if paths.warehouse.exists():
        for line in _clear_periods_from(paths, first, months[-1]):
            _say(f"  {line}")
    _say(f"Restating {len(months)} month(s) {months[0]:%Y-%m} to {months[-1]:%Y-%m} in one run "
         f"as of {months[-1]} ...")
    if publish:
        code = refresh(months[-1], force=True, job="refresh" if stale else "retier")
        if code != 0:
            return _fail(f"the months from {months[0]:%Y-%m} on are rebuilt by the next run "
                         "that builds them (this command again, or the next refresh)")
    else:
        ok, run_id, message = run_job("build" if stale else "retier_build", months[-1])
        if not ok:
            return _fail(f"restate as of {months[-1]} FAILED (run {run_id}); the months from "
                         f"{months[0]:%Y-%m} on are rebuilt by the next run that builds them "
                         f"(this command again, or the next refresh).\n  {message}")
    _say(f"Restated {len(months)} month(s) {months[0]:%Y-%m} to {months[-1]:%Y-%m} in "
         f"{time.monotonic() - started:.0f} s."
         + ("" if publish else f"\n  Not published: the serving copy stays as of "
                                f"{latest_published}."))
    return 0


def serve() -> int:
    """`dagster dev` on this code location, with the instance in $TIERING_HOME/dagster."""
    process_defaults()
    paths = get_paths()
    env = dict(os.environ, DAGSTER_HOME=str(dagster_home(paths)), TIERING_HOME=str(paths.home))
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev",
               "-m", "orchestration.definitions"]
    _say(f"Starting the Dagster UI (DAGSTER_HOME={env['DAGSTER_HOME']}); Ctrl-C to stop.")
    return subprocess.call(command, cwd=PROJECT_DIR, env=env)
