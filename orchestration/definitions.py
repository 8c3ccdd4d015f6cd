"""The Dagster code location (`tiering serve`, `dagster dev`; pyproject [tool.dagster])."""

import dagster as dg

from orchestration.assets import ASSETS, QUALITY_CHECKS
from orchestration.jobs import build_job, refresh_job, retier_build_job, retier_job
from orchestration.resources import RESOURCES
from orchestration.schedules import SCHEDULES
from orchestration.sensors import SENSORS

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=QUALITY_CHECKS,
    jobs=[refresh_job, build_job, retier_job, retier_build_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=RESOURCES,
)
