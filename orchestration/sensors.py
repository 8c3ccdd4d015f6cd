"""Sensors: start a refresh when a period's deliveries are complete; record failed runs."""

from datetime import date

import dagster as dg

from orchestration.deliveries import complete_periods
from orchestration.jobs import build_job, refresh_job, retier_build_job, retier_job
from orchestration.resources import tiering_run_config
from orchestration.state import record_alert, step_failure_text
from tiering.config import get_paths


@dg.sensor(job=refresh_job, minimum_interval_seconds=120,
           default_status=dg.DefaultSensorStatus.RUNNING)
def complete_delivery_sensor(context: dg.SensorEvaluationContext):
    """One refresh for the newest period in which all six departments have a `_manifest.json`.

    The cursor is the last period requested, so a period triggers at most once; a period that
    completes after a newer one (late delivery) is picked up by the daily schedule instead.
    """
    periods = complete_periods(get_paths().landing)
    newest = periods[-1] if periods else None
    last = date.fromisoformat(context.cursor) if context.cursor else None
    if newest is None or (last is not None and newest <= last):
        return dg.SkipReason(f"no newly complete period (last requested: {last})")
    context.update_cursor(newest.isoformat())
    return dg.RunRequest(run_key=f"complete-{newest.isoformat()}",
                         run_config=tiering_run_config(newest),
                         tags={"tiering/as_of": newest.isoformat(), "tiering/trigger": "sensor"})


@dg.run_failure_sensor(monitored_jobs=[refresh_job, build_job, retier_job, retier_build_job],
                       default_status=dg.DefaultSensorStatus.RUNNING)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    """A row in $TIERING_HOME/ops.duckdb pipeline_alerts, a log line, a webhook if configured."""
    run = context.dagster_run
    failed = [step_failure_text(e) for e in context.get_step_failure_events()]
    record_alert(
        get_paths(),
        run_id=run.run_id,
        job_name=run.job_name,
        as_of=run.tags.get("tiering/as_of"),
        message="; ".join(failed) or context.failure_event.message or "run failed",
    )


SENSORS = [complete_delivery_sensor, alert_on_run_failure]
