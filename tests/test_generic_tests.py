"""The project's own generic dbt tests fail on what they are meant to catch (tests/dbt/generic).

unique_combination_of_columns checks a grain in two stages (hashes of the combinations first,
then an exact group-by over the rows whose hash repeats): here it must report every duplicated
combination, nulls compared as equal, pass a unique grain, and stay exact when every hash
collides (the hash macro replaced by a constant in a copy of the project)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from project_copy import copy_project

DBT = str(Path(sys.executable).parent / "dbt")

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
"""


def _build_probe(tmp_path: Path, name: str, constant_hash: bool) -> dict[str, dict]:
    project = copy_project(tmp_path / name)
    (project / "models" / "zz_grain_probe.sql").write_text(PROBE, encoding="utf-8")
    (project / "models" / "zz_grain_probe.yml").write_text(PROBE_YML, encoding="utf-8")
    if constant_hash:  # every combination collides: only the exact stage tells them apart
        (project / "macros" / "zz_constant_hash.sql").write_text(
            "{% macro duckdb__tiering_key_hash(columns) -%} cast(42 as bigint) {%- endmacro %}\n",
            encoding="utf-8")
    home = tmp_path / f"{name}-home"
    home.mkdir()
    env = {**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target"),
           "DBT_LOG_PATH": str(home / "logs")}
    result = subprocess.run([DBT, "build", "--select", "zz_grain_probe", "--project-dir",
                             str(project), "--profiles-dir", str(project)],
                            cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-4000:]  # the duplicated grain fails the build
    run = json.loads((home / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"].split(".")[2]: r for r in run["results"]
            if r["unique_id"].startswith("test.")}


def test_unique_combination_of_columns_reports_every_duplicate_and_passes_a_unique_grain(
        tmp_path):
    for name, constant_hash in (("hashed", False), ("colliding", True)):
        tests = _build_probe(tmp_path, name, constant_hash)
        duplicated, unique = tests["zz_probe_duplicated_grain"], tests["zz_probe_unique_grain"]
        # (C1, default) and (null, default): two duplicated combinations
        assert (duplicated["status"], duplicated["failures"]) == ("fail", 2), name
        assert (unique["status"], unique["failures"]) == ("pass", 0), name
