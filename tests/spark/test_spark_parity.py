"""The same dbt project on DuckDB and on Spark (dbt-spark session, local mode) over the same small
simulated landing zone gives the same warehouse: same clients and client keys, same source
records linked to the same clients, same tiers, the same per-tier counts per period.

Both builds follow the pipeline's order: dbt upstream of the risk model, the risk model, dbt after
it (tag after_risk_model). The risk model is Python on DuckDB (tiering/risk_model.py); on Spark
its input, int_tiering_client_features_built, is asserted equal to DuckDB's, and its output (the
`ml` tables) is handed to Spark as Parquet under $TIERING_HOME/spark-external/ml/<table>/, where
macros/spark/sources.sql registers it (docs/scaling.md, "What runs where").

Spark tables are read back straight from their Parquet files (spark-warehouse/<schema>.db/<table>)
with DuckDB, so no second JVM is needed. Run with `make test-spark`; timings are printed and
recorded in docs/scaling.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tiering.config import PROJECT_DIR, Paths

CLIENTS = int(os.environ.get("TIERING_SPARK_TEST_CLIENTS", "300"))
MONTHS = int(os.environ.get("TIERING_SPARK_TEST_MONTHS", "4"))
START = "2025-09"
SEED = 7
DBT = str(Path(sys.executable).parent / "dbt")
TIMINGS: dict[str, float] = {}


def as_of_date() -> date:
    """Last month end of the simulation."""
    year, month = (int(part) for part in START.split("-"))
    month += MONTHS  # the month after the last one
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date.fromordinal(date(year, month, 1).toordinal() - 1)


def dbt(home: Path, target: str, *args: str) -> dict[str, str]:
    """Run dbt on a target; return {unique_id: status} from run_results.json."""
    target_path = home / f"target-{target}"
    env = {**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(target_path),
           "DBT_LOG_PATH": str(home / f"logs-{target}")}
    command = [DBT, *args, "--profiles-dir", str(PROJECT_DIR), "--target", target,
               "--vars", f"{{as_of_date: '{as_of_date().isoformat()}'}}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    TIMINGS[target] = TIMINGS.get(target, 0.0) + time.perf_counter() - started
    results_file = target_path / "run_results.json"
    if not results_file.exists():
        raise AssertionError(f"dbt {' '.join(args)} on {target} did not run:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    results = json.loads(results_file.read_text())["results"]
    (home / f"dbt-{target}-{len(TIMINGS)}-{time.time_ns()}.log").write_text(result.stdout)
    return {r["unique_id"]: r["status"] for r in results}


def write_ml_for_spark(home: Path) -> None:
    """The risk model's tables, as the Python step leaves them for Spark: Parquet per table."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute("select table_name from information_schema.tables "
                             "where table_schema = 'ml'").fetchall()
        for (table,) in tables:
            folder = home / "spark-external" / "ml" / table
            folder.mkdir(parents=True, exist_ok=True)
            con.execute(f"copy ml.{table} to '{folder}/part-0.parquet' (format parquet)")


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    from tiering.ingest import ingest
    from tiering.risk_model import ModelSettings, train_and_score
    from tiering.simulate import simulate

    home = tmp_path_factory.mktemp("spark_parity")
    simulate(home / "landing", home / "truth", CLIENTS, MONTHS, START, SEED)
    ingest(Paths(home=home))
    statuses = {}
    for target in ("duckdb", "spark"):
        statuses[target] = dbt(home, target, "build", "--exclude", "tag:after_risk_model")
        if target == "duckdb":
            train_and_score(home / "warehouse.duckdb", as_of_date(), home / "models",
                            ModelSettings(min_train_periods=2, min_train_defaults=5))
            write_ml_for_spark(home)
        statuses[target].update(dbt(home, target, "build", "--select", "tag:after_risk_model"))
    print(f"\nbuild time over {CLIENTS} clients x {MONTHS} months: "
          + ", ".join(f"{target} {seconds:.0f} s" for target, seconds in TIMINGS.items()))
    return {"home": home, "statuses": statuses}


def spark_table(home: Path, schema: str, table: str) -> pd.DataFrame:
    folder = home / "spark-warehouse" / f"{schema}.db" / table
    files = list(folder.rglob("*.parquet"))
    if not files:
        raise AssertionError(f"no Spark table {schema}.{table} at {folder}")
    with duckdb.connect() as con:
        return con.execute(
            f"select * from read_parquet('{folder}/**/*.parquet', hive_partitioning = true, "
            "union_by_name = true)"
        ).df()


def duckdb_table(home: Path, schema: str, table: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"select * from {schema}.{table}").df()


def both(home: Path, schema: str, table: str, columns: list[str]) -> tuple[pd.DataFrame, ...]:
    """The same columns of a table from both engines, typed alike and sorted alike."""
    frames = []
    for frame in (duckdb_table(home, schema, table), spark_table(home, schema, table)):
        frame = frame[columns].astype(str).sort_values(columns).reset_index(drop=True)
        frames.append(frame)
    return tuple(frames)


def assert_same(home: Path, schema: str, table: str, columns: list[str]) -> None:
    on_duckdb, on_spark = both(home, schema, table, columns)
    merged = on_duckdb.merge(on_spark, how="outer", on=columns, indicator=True)
    different = merged[merged["_merge"] != "both"]
    assert different.empty, (
        f"{schema}.{table}: {len(different)} rows differ ({len(on_duckdb)} on DuckDB, "
        f"{len(on_spark)} on Spark):\n{different.head(20).to_string()}")


def test_every_node_that_passes_on_duckdb_passes_on_spark(builds):
    on_duckdb, on_spark = builds["statuses"]["duckdb"], builds["statuses"]["spark"]
    good = {"success", "pass"}
    regressions = {uid: on_spark.get(uid, "not run") for uid, status in on_duckdb.items()
                   if status in good and on_spark.get(uid) not in good}
    assert not regressions, f"pass on DuckDB, not on Spark: {regressions}"
    assert sum(status in good for status in on_spark.values()) > 50


def test_same_clients_and_client_keys(builds):
    assert_same(builds["home"], "marts", "dim_clients", ["client_key"])


def test_same_records_linked_to_the_same_clients(builds):
    assert_same(builds["home"], "marts", "client_source_xref",
                ["department", "entity", "record_id", "client_key", "match_rule"])


def test_same_risk_model_input(builds):
    home = builds["home"]
    on_duckdb = duckdb_table(home, "intermediate", "int_tiering_client_features_built")
    on_spark = spark_table(home, "intermediate", "int_tiering_client_features_built")
    assert len(on_duckdb) == len(on_spark) > 0
    keys = ["client_key", "period_date"]
    on_duckdb, on_spark = (frame.assign(period_date=pd.to_datetime(frame["period_date"]))
                           .sort_values(keys).reset_index(drop=True)
                           for frame in (on_duckdb, on_spark))
    assert (on_duckdb[keys].astype(str).values == on_spark[keys].astype(str).values).all()
    for column in on_duckdb.columns.difference(keys):
        a, b = on_duckdb[column], on_spark[column]
        if pd.api.types.is_numeric_dtype(a) or pd.api.types.is_bool_dtype(a):
            a, b = a.astype(float), b.astype(float)
            same = ((a - b).abs() <= 1e-9 * (1 + a.abs())) | (a.isna() & b.isna())
        else:
            same = (a.astype(str) == b.astype(str))
        assert same.all(), f"feature {column} differs on {(~same).sum()} rows"


def test_same_tiers(builds):
    assert_same(builds["home"], "marts", "client_tiers",
                ["client_key", "period_date", "profile_code", "tier_code"])


def test_same_per_tier_counts_per_period(builds):
    home = builds["home"]
    counts = []
    for frame in (duckdb_table(home, "marts", "client_tiers"),
                  spark_table(home, "marts", "client_tiers")):
        frame = frame.assign(period_date=pd.to_datetime(frame["period_date"]))
        counts.append(frame.groupby(["period_date", "profile_code", "tier_code"]).size()
                      .rename("clients").reset_index())
    pd.testing.assert_frame_equal(*counts)
