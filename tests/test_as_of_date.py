"""The run's as-of date reaches dbt in the environment (TIERING_AS_OF_DATE, how `tiering` gives
it) or as var('as_of_date'), and a new date in the environment does not make dbt parse the whole
project again (macros/as_of_date.sql). Real `dbt compile` runs on an empty home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dbt_cli import DBT, warm
from tiering.config import PROJECT_DIR

FULL_PARSE = "Unable to do partial parsing"
# a model that filters on the as-of date, and a data test whose `where` names it
SELECTED = ("client_tiers_current", "tiering_composites_guardrail_never_raises_a_tier")


def compile_as_of(home: Path, environment: str | None, variables: str = "{}") -> str:
    env = warm({**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target"),
                "DBT_LOG_PATH": str(home / "logs")})
    env.pop("TIERING_AS_OF_DATE", None)
    if environment is not None:
        env["TIERING_AS_OF_DATE"] = environment
    result = subprocess.run(
        [DBT, "compile", "--select", *SELECTED, "--profiles-dir", str(PROJECT_DIR),
         "--vars", variables], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    return result.stdout + result.stderr + f"\nexit {result.returncode}"


def compiled(home: Path) -> tuple[str, str]:
    root = home / "target" / "compiled" / "tiering" / "models"
    model = (root / "marts" / "tiering" / "client_tiers_current.sql").read_text()
    test = next(root.rglob("tiering_composites_guardrail_never_raises_a_tier.sql")).read_text()
    return model, test


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("as_of_date")
    out = compile_as_of(home, "2026-09-30")  # the first parse of an empty target
    assert out.endswith("exit 0"), out[-4000:]
    return home


def test_a_new_date_in_the_environment_reuses_the_parse(home: Path) -> None:
    out = compile_as_of(home, "2026-08-31")
    assert out.endswith("exit 0"), out[-4000:]
    assert FULL_PARSE not in out
    model, test = compiled(home)
    assert "cast('2026-08-31' as date)" in model and "2026-09-30" not in model
    # the test's `where` placeholder {as_of_date} is the run's date, not the parse's
    assert ("period_date <= cast('2026-08-31' as date) and period_date > "
            "cast('2026-08-31' as date) - interval 1 month") in test
    assert "{as_of_date}" not in test


def test_without_either_every_delivery_counts(home: Path) -> None:
    out = compile_as_of(home, None)
    assert out.endswith("exit 0"), out[-4000:]
    assert FULL_PARSE not in out
    model, _ = compiled(home)
    assert "cast('2099-12-31' as date)" in model


def test_a_date_not_written_as_iso_is_refused_by_name(home: Path) -> None:
    out = compile_as_of(home, "2026-8-31")
    assert not out.endswith("exit 0")
    assert ("The as-of date from the environment variable TIERING_AS_OF_DATE is '2026-8-31', "
            "not a date written YYYY-MM-DD") in out


def test_the_var_wins_over_the_environment(home: Path) -> None:
    """Last: other vars make dbt parse everything again."""
    out = compile_as_of(home, "2026-08-31", "{as_of_date: '2026-06-30'}")
    assert out.endswith("exit 0"), out[-4000:]
    model, test = compiled(home)
    assert "cast('2026-06-30' as date)" in model and "2026-08-31" not in model
    assert "cast('2026-06-30' as date)" in test
