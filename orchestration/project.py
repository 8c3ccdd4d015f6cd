"""The dbt project as Dagster sees it, with a manifest parsed once and reused.

The manifest lives in `$DBT_TARGET_PATH` (default `target/`). It is parsed again only when a dbt
file is newer than it, so loading the definitions costs a file walk, not a `dbt parse`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from tiering.config import PROJECT_DIR

DBT_SOURCE_DIRS = ("models", "macros", "seeds", "snapshots", "analyses", "tests/dbt")
DBT_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(
    project_dir=PROJECT_DIR,
    profiles_dir=PROJECT_DIR,
    target_path=Path(os.environ.get("DBT_TARGET_PATH", "target")),
)


def dbt_executable() -> str:
    """The dbt next to this Python (the project's virtualenv) even when it is not on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


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


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Run `dbt parse` if (and only if) the manifest is missing or older than a dbt file."""
    if manifest_is_stale(project):
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path
