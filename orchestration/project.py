"""The dbt project as Dagster sees it, with a manifest parsed once and reused.

The manifest lives in `$DBT_TARGET_PATH` (default `target/`). It is parsed again only when a dbt
file is newer than it, so loading the definitions costs a file walk, not a `dbt parse`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
import contextlib
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from tiering.config import PROJECT_DIR
from tiering.dbt_warm import dbt_script, ensure_server

DBT_SOURCE_DIRS = ("models", "macros", "seeds", "snapshots", "analyses", "tests/dbt")
DBT_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(
    project_dir=PROJECT_DIR,
    profiles_dir=PROJECT_DIR,
    target_path=Path(os.environ.get("DBT_TARGET_PATH", "target")),
)


def dbt_executable() -> str:
    """`tiering-dbt` next to this Python (the project's virtualenv): dbt, forked from this
    process's warm server when there is one (tiering/dbt_warm.py); else dbt itself."""
    warm = Path(sys.executable).parent / "tiering-dbt"
    return str(warm) if warm.exists() else dbt_script()


class TieringDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without three start-up costs (docs/benchmarks.md).

    - `cli` also starts this process's warm dbt server (tiering/dbt_warm.py): each dbt command
      forks from a process that imported dbt once, instead of importing it again.
    - `_cli_version`: dagster-dbt runs `dbt --version` in a subprocess (a dbt start-up, and a
      PyPI look-up for the latest version) to learn the version; the dbt beside this Python is the
      installed dbt-core package.
    - `_initialize_dbt_core_adapter`: dagster-dbt loads the dbt project and an adapter in-process
      before every invocation, only for `fetch_row_counts()` / `fetch_column_metadata()`, which we
      do not call.
    The last two are private to dagster-dbt (pinned in pyproject.toml);
    tests/test_orchestration.py fails if an upgrade changes them.
    """

    def cli(self, *args, **kwargs):  # type: ignore[override]
        """dagster-dbt's `cli`, with this process's warm dbt server running (started on the
        first command; TIERING_DBT_SERVER then reaches the dbt process in its environment)."""
        ensure_server()
        return super().cli(*args, **kwargs)

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def _newest_dbt_file_mtime(project_dir: Path) -> float:
    mtimes = [(project_dir / name).stat().st_mtime for name in DBT_SOURCE_FILES
              if (project_dir / name).exists()]
    for folder in DBT_SOURCE_DIRS:
        mtimes.extend(path.stat().st_mtime for path in (project_dir / folder).rglob("*")
                      if path.is_file())
    return max(mtimes, default=0.0)


def manifest_is_stale(project: DbtProject = dbt_project) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    return _newest_dbt_file_mtime(project.project_dir) > manifest.stat().st_mtime


AS_OF_ENVIRONMENT = "TIERING_AS_OF_DATE"


def dbt_vars() -> str:
    """The `--vars` of every dbt invocation (one string, the same every run, so that a run
    starts from the saved parse: dbt parses the whole project again when the vars differ).

    The as-of date is not among them: each dbt step reads it from TIERING_AS_OF_DATE while it
    executes (`as_of_environment`, macros/as_of_date.sql). TIERING_PERIODS_PER_STATEMENT and
    TIERING_TIER_ROWS_PER_STATEMENT, when set, override the dbt vars
    tiering_periods_per_statement (the most periods a tier-history model builds in one
    statement) and tiering_tier_rows_per_statement (the most rows client_tiers builds in one
    statement; docs/operations.md, "Process settings")."""
    values: dict[str, object] = {}
    for variable, name in (("TIERING_PERIODS_PER_STATEMENT", "tiering_periods_per_statement"),
                           ("TIERING_TIER_ROWS_PER_STATEMENT", "tiering_tier_rows_per_statement")):
        setting = os.environ.get(variable, "").strip()
        if setting:
            if not setting.isdigit():
                raise ValueError(f"{variable} must be a whole number, not {setting!r}")
            values[name] = int(setting)
    return json.dumps(values)


@contextmanager
def dbt_environment(name: str, value: str, *, replace: bool = True) -> Iterator[None]:
    """`name` set to `value` in this process's environment while a dbt process is started
    (dagster-dbt passes the environment on to it), then put back as it was (with
    `replace=False`, a value already set is kept). A process that runs a refresh and then other
    things (a test worker, a Python session, the next month of a backfill) keeps its own
    environment: left behind, DBT_INDIRECT_SELECTION=buildable dropped every data test of a
    later bare `dbt test` that has a parent outside its selection, and one run's as-of date
    would reach the next run's dbt."""
    before = os.environ.get(name)
    if replace or before is None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def as_of_environment(as_of: date) -> contextlib.AbstractContextManager[None]:
    """TIERING_AS_OF_DATE, which macros/as_of_date.sql reads, set to `as_of` while a dbt step
    starts."""
    return dbt_environment(AS_OF_ENVIRONMENT, as_of.isoformat())


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Run `dbt parse` if (and only if) the manifest is missing or older than a dbt file.

    The parse uses the `--vars` of every run (`dbt_vars`, which do not hold the as-of date), so
    the run's first `dbt build` starts from it instead of parsing everything again, in this
    month and the next."""
    if manifest_is_stale(project):
        args = ["parse", "--quiet", "--vars", dbt_vars()]
        TieringDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            args, target_path=project.target_path).wait()
    return project.manifest_path
