"""When refreshes run on their own (in `tiering serve` / a Dagster daemon)."""

import dagster as dg

from orchestration.deliveries import latest_complete_period
from orchestration.jobs import refresh_job
from orchestration.resources import tiering_run_config
from orchestration.state import nothing_to_do
from tiering.config import get_paths

TIMEZONE = "Asia/Shanghai"


@dg.schedule(
    job=refresh_job,
    cron_schedule="0 6 * * *",  # every day at 06:00 (Beijing time), before the business day
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_refresh(context: dg.ScheduleEvaluationContext):
    """Refresh as of the latest complete period, unless that is already published from the same
    deliveries and code."""
    paths = get_paths()
    period = latest_complete_period(paths.landing)
    if period is None:
        return dg.SkipReason(f"no complete period in {paths.landing}")
    if nothing_to_do(paths, period):
        return dg.SkipReason(f"{period} is already published and no delivery or code changed")
    return dg.RunRequest(run_config=tiering_run_config(period),
                         tags={"tiering/as_of": period.isoformat(), "tiering/trigger": "daily"})


@dg.schedule(
    job=refresh_job,
    cron_schedule="0 2 1 * *",  # 02:00 (Beijing time) on the 1st of every month
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def monthly_retiering(context: dg.ScheduleEvaluationContext):
    """Re-tier as of the latest complete period even if nothing changed (a full monthly run)."""
    period = latest_complete_period(get_paths().landing)
    if period is None:
        return dg.SkipReason("no complete period in the landing zone")
    month = f"{context.scheduled_execution_time:%Y%m}"
    return dg.RunRequest(run_key=f"retier-{period.isoformat()}-{month}",
                         run_config=tiering_run_config(period),
                         tags={"tiering/as_of": period.isoformat(), "tiering/trigger": "monthly"})


SCHEDULES = [daily_refresh, monthly_retiering]
