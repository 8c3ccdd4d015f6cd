"""The project's own generic dbt tests fail on what they are meant to catch (tests/dbt/generic).

unique_combination_of_columns checks a grain in two stages (hashes of the combinations first,
then an exact group-by over the rows whose hash repeats): here it must report every duplicated
combination, nulls compared as equal, pass a unique grain, and stay exact when every hash
collides (the hash macro replaced by a constant in a copy of the project). not_null_columns
(one test for several required columns) must fail with a row naming each column that holds
NULLs, and honour a `where`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from dbt_cli import DBT, warm
from project_copy import copy_project


PROBE = """
select * from (values
    ('C1', 'default', 1), ('C1', 'default', 2),
    ('C2', 'default', 3),
    ('C2', 'infrastructure', 4),
    (null, 'default', 5), (null, 'default', 6),
    ('C3', null, 7)
) as probe(client_key, profile_code, row_id)
"""

PROBE_YML = """
version: 2
models:
  - name: zz_grain_probe
    data_tests:
      - unique_combination_of_columns:
          name: zz_probe_duplicated_grain
          arguments:
            combination_of_columns: [client_key, profile_code]
      - unique_combination_of_columns:
          name: zz_probe_unique_grain
          arguments:
            combination_of_columns: [client_key, profile_code, row_id]
      - not_null_columns:
          name: zz_probe_nulls_in_two_columns
          arguments:
            column_names: [client_key, profile_code, row_id]
      - not_null_columns:
          name: zz_probe_no_nulls
          arguments:
            column_names: [row_id]
      - not_null_columns:
          name: zz_probe_no_nulls_where
          arguments:
            column_names: [client_key, profile_code, row_id]
          config:
            where: "row_id between 1 and 4"
"""


def _build_probe(tmp_path: Path, name: str,
                 constant_hash: bool) -> tuple[dict[str, dict], Path]:
    project = copy_project(tmp_path / name)
    (project / "models" / "zz_grain_probe.sql").write_text(PROBE, encoding="utf-8")
    (project / "models" / "zz_grain_probe.yml").write_text(PROBE_YML, encoding="utf-8")
    if constant_hash:  # every combination collides: only the exact stage tells them apart
        (project / "macros" / "zz_constant_hash.sql").write_text(
            "{% macro duckdb__tiering_key_hash(columns) -%} cast(42 as bigint) {%- endmacro %}\n",
            encoding="utf-8")
    home = tmp_path / f"{name}-home"
    home.mkdir()
    env = warm({**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target"),
                "DBT_LOG_PATH": str(home / "logs")})
    result = subprocess.run([DBT, "build", "--select", "zz_grain_probe", "--project-dir",
                             str(project), "--profiles-dir", str(project)],
                            cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-4000:]  # the duplicated grain fails the build
    run = json.loads((home / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"].split(".")[2]: r for r in run["results"]
            if r["unique_id"].startswith("test.")}, home


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, dict], Path]]:
    root = tmp_path_factory.mktemp("grain_probes")
    return {name: _build_probe(root, name, constant_hash)
            for name, constant_hash in (("hashed", False), ("colliding", True))}


def test_unique_combination_of_columns_reports_every_duplicate_and_passes_a_unique_grain(
        probes):
    for name, (tests, _) in probes.items():
        duplicated, unique = tests["zz_probe_duplicated_grain"], tests["zz_probe_unique_grain"]
        # (C1, default) and (null, default): two duplicated combinations
        assert (duplicated["status"], duplicated["failures"]) == ("fail", 2), name
        assert (unique["status"], unique["failures"]) == ("pass", 0), name


def test_not_null_columns_names_each_column_holding_nulls(probes):
    tests, home = probes["hashed"]
    failing = tests["zz_probe_nulls_in_two_columns"]
    assert (failing["status"], failing["failures"]) == ("fail", 2)  # two columns hold NULLs
    for passing in ("zz_probe_no_nulls", "zz_probe_no_nulls_where"):  # `where` narrows it
        assert (tests[passing]["status"], tests[passing]["failures"]) == ("pass", 0), passing
    compiled = next((home / "target" / "compiled").rglob("zz_probe_nulls_in_two_columns.sql"))
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(compiled.read_text(encoding="utf-8")).fetchall()
    assert sorted(rows) == [("client_key", 2), ("profile_code", 1)]


# An incremental period model: a build writes the periods of the rows in table
# main.zz_probe_input (the test writes them before each build), so the scope its pre-hook records
# is the periods it writes (macros/testing/tests_scoped_to_written_periods.sql). The input is a
# table rather than vars so that the builds share one parse of the project.
PERIOD_PROBE = """
{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='period_date',
          pre_hook="{{ tests_scope_recorded('select period_date from main.zz_probe_input') }}") }}
select client_key, period_date from main.zz_probe_input
"""

PERIOD_PROBE_YML = """
version: 2
models:
  - name: zz_period_probe
    data_tests:
      - unique_combination_of_columns:
          name: zz_period_probe_grain
          arguments:
            combination_of_columns: [client_key, period_date]
      - unique_combination_of_columns:
          name: zz_period_probe_grain_every_period
          arguments:
            combination_of_columns: [client_key, period_date]
          config:
            meta: {tests_scope: all}
"""


def test_data_tests_of_a_period_model_check_the_periods_its_build_wrote(tmp_path):
    """A build tests the periods it wrote: a duplicate in an old period is not seen, one in a
    written period is. A first build, a standalone `dbt test`, var data_tests_scope=all and a
    test with meta tests_scope=all see every row."""
    project = copy_project(tmp_path / "project")
    (project / "models" / "zz_period_probe.sql").write_text(PERIOD_PROBE, encoding="utf-8")
    (project / "models" / "zz_period_probe.yml").write_text(PERIOD_PROBE_YML, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = warm({**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target"),
                "DBT_LOG_PATH": str(home / "logs")})

    def dbt(command: str, rows: list[tuple[str, str]] | None = None,
            scope: str = "written") -> dict[str, tuple[str, int]]:
        if rows is not None:
            with duckdb.connect(str(home / "warehouse.duckdb")) as con:
                con.execute("create or replace table main.zz_probe_input "
                            "(client_key varchar, period_date date)")
                con.executemany("insert into main.zz_probe_input values (?, ?)", rows)
        subprocess.run([DBT, command, "--select", "zz_period_probe",
                        "--vars", json.dumps({"data_tests_scope": scope}),
                        "--project-dir", str(project), "--profiles-dir", str(project)],
                       cwd=project, env=env, capture_output=True, text=True)
        run = json.loads((home / "target" / "run_results.json").read_text(encoding="utf-8"))
        return {r["unique_id"].split(".")[2]: (r["status"], r["failures"])
                for r in run["results"] if r["unique_id"].startswith("test.")}

    scoped, every = "zz_period_probe_grain", "zz_period_probe_grain_every_period"
    january, february, march = ("C1", "2025-01-31"), ("C1", "2025-02-28"), ("C1", "2025-03-31")
    # first build: every period written and tested
    first = dbt("build", [january, january, february])
    assert first[scoped] == first[every] == ("fail", 1)
    # the February build rewrites February only: January's duplicate is out of its scope
    rebuilt = dbt("build", [february])
    assert rebuilt[scoped] == ("pass", 0)
    assert rebuilt[every] == ("fail", 1)
    # a duplicate the build writes is caught
    appended = dbt("build", [march, march])
    assert appended[scoped] == ("fail", 1)
    assert appended[every] == ("fail", 2)
    # every row in a standalone dbt test, and in a build with data_tests_scope=all
    assert dbt("test")[scoped] == ("fail", 2)
    assert dbt("build", [march, march], scope="all")[scoped] == ("fail", 2)
