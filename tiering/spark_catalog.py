"""The Python steps over a Spark build (docs/scaling.md, "What runs where").

The risk model, the Great Expectations gates, publish and the report read the build database,
`$TIERING_HOME/warehouse.duckdb`. When dbt builds on Spark (`--target spark`), the tables are
Parquet under `$TIERING_HOME/spark-warehouse/<schema>.db/<table>/`; this module makes that build
readable to the same steps, unchanged:

- `write_catalog` (re)creates in warehouse.duckdb one view per Spark table over its Parquet files
  (`read_parquet(..., hive_partitioning, union_by_name)`), schema for schema, table for table. Only
  views are replaced: tables the Python steps write there (the risk model's `ml.*`) are kept.
- `export_ml` copies those `ml.*` tables to `<spark_external_root>/ml/<table>/` as Parquet, where
  the Spark target's on-run-start hook (macros/spark/sources.sql) registers them as the `ml`
  source for the dbt step after the risk model.

    python -m tiering.spark_catalog catalog      # after each dbt step on Spark
    python -m tiering.spark_catalog export-ml    # after the risk model

The views hold absolute paths, so the catalog is rebuilt when the Spark warehouse moves. Partition
columns (`period_date` of the incremental models) come last in Spark tables, and so in the views.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import duckdb

from tiering.config import Paths, get_paths

ML_SCHEMA = "ml"


def spark_warehouse_dir(paths: Paths) -> Path:
    """profiles.yml, target `spark`: spark.sql.warehouse.dir."""
    return paths.home / "spark-warehouse"


def spark_external_root(paths: Paths) -> Path:
    """dbt var spark_external_root's default (macros/spark/sources.sql)."""
    return Path(os.environ.get("TIERING_SPARK_EXTERNAL_ROOT", paths.home / "spark-external"))


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def spark_tables(warehouse_dir: Path) -> dict[tuple[str, str], Path]:
    """{(schema, table): folder} for every table folder holding Parquet files."""
    found: dict[tuple[str, str], Path] = {}
    for schema_dir in sorted(warehouse_dir.glob("*.db")):
        for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
            if any(table_dir.rglob("*.parquet")):
                found[(schema_dir.name[: -len(".db")], table_dir.name)] = table_dir
    return found


def write_catalog(paths: Paths | None = None, warehouse_dir: Path | None = None) -> list[str]:
    """Views in paths.warehouse over every Spark table; returns their names (schema.table).

    A view whose Spark table is gone is dropped; tables (not views) are never touched."""
    paths = paths or get_paths()
    tables = spark_tables(warehouse_dir or spark_warehouse_dir(paths))
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        existing = {(s, t): kind for s, t, kind in con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog = current_database()").fetchall()}
        for (schema, table), kind in existing.items():
            if kind == "VIEW" and (schema, table) not in tables:
                con.execute(f"drop view {_q(schema)}.{_q(table)}")
        for (schema, table), folder in tables.items():
            if existing.get((schema, table), "VIEW") != "VIEW":
                raise RuntimeError(f"{paths.warehouse} has a table {schema}.{table}; a Spark "
                                   "catalog is written only into a build database of views")
            files = _literal(f"{folder}/**/*.parquet")
            con.execute(f"create schema if not exists {_q(schema)}")
            con.execute(
                f"create or replace view {_q(schema)}.{_q(table)} as select * from "
                f"read_parquet({files}, hive_partitioning = true, union_by_name = true)")
    return [f"{schema}.{table}" for schema, table in tables]


def export_ml(paths: Paths | None = None, external_root: Path | None = None) -> list[str]:
    """Copy the `ml` tables of paths.warehouse to Parquet for Spark; returns their names."""
    paths = paths or get_paths()
    root = (external_root or spark_external_root(paths)) / ML_SCHEMA
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1", [ML_SCHEMA]).fetchall()]
        for table in tables:
            folder = root / table
            staging = folder.with_name(f".{table}.{os.getpid()}.tmp")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            con.execute(f"copy {ML_SCHEMA}.{_q(table)} to "
                        f"{_literal(str(staging / 'part-00000.parquet'))} (format parquet)")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
    return [f"{ML_SCHEMA}.{t}" for t in tables]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiering.spark_catalog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["catalog", "export-ml"])
    args = parser.parse_args(argv)
    paths = get_paths()
    if args.step == "catalog":
        names = write_catalog(paths)
        print(f"{len(names)} Spark tables as views in {paths.warehouse}")
    else:
        names = export_ml(paths)
        print(f"{', '.join(names) or 'no ml tables'} -> {spark_external_root(paths) / ML_SCHEMA}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
