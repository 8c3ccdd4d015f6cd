"""Every resource of the code location, in one place.

`tiering` carries the run's as-of date: the CLI, the schedules and the sensor set it through run
config (`resources: {tiering: {config: {as_of_date: "YYYY-MM-DD"}}}`); empty means the latest
period for which every department's delivery is complete.
"""

from __future__ import annotations

import contextlib
from datetime import date

import dagster as dg

from orchestration.deliveries import latest_complete_period
from orchestration.project import (
    TieringDbtCliResource,
    dbt_executable,
    dbt_project,
    dbt_vars,
)
from tiering.config import Paths, get_paths
from tiering.runlock import HomeBusy, step_guard


class TieringResource(dg.ConfigurableResource):
    """Paths (from the environment) and the as-of date of one run."""

    as_of_date: str = ""

    @property
    def paths(self) -> Paths:
        return get_paths()

    def as_of(self) -> date:
        if self.as_of_date:
            return date.fromisoformat(self.as_of_date)
        latest = latest_complete_period(self.paths.landing)
        if latest is None:
            raise dg.Failure(
                f"no period is complete in {self.paths.landing}: every department "
                "(crm, finance, risk, projects, service, external) needs a delivery with "
                "_manifest.json for the same month"
            )
        return latest

    def dbt_vars(self) -> str:
        return dbt_vars()

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        """Each step holds the home shared while it runs (tiering/runlock.py), unless it runs
        inside a `tiering refresh` / `backfill` that holds it: a command started meanwhile is
        refused instead of colliding with the step, and a step is refused while a command runs."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(step_guard(self.paths))
            except HomeBusy as busy:
                raise dg.Failure(str(busy)) from None
            with super().yield_for_execution(context) as value:
                yield value


def tiering_run_config(as_of: date) -> dict:
    """Run config that pins a run to one as-of date."""
    return {"resources": {"tiering": {"config": {"as_of_date": as_of.isoformat()}}}}


RESOURCES: dict[str, object] = {
    "tiering": TieringResource(),
    "dbt": TieringDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
}
