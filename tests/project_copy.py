"""A copy of the dbt project for tests that change a seed or a macro without touching the repo."""

from __future__ import annotations

import shutil
from pathlib import Path

from tiering.config import PROJECT_DIR

PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "snapshots",
                 "tests/dbt")


def copy_project(target: Path) -> Path:
    target.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, target / part,
                            ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / part)
    return target
