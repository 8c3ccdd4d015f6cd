"""What writing a mart costs, by storage setting: DuckDB's table compression and Parquet codecs.

`client_tiers` is the largest table the refresh writes (clients x periods x profiles, 48
columns) and the publish writes it twice more (the serving copy and the Parquet export). This
script asks whether a storage setting makes those writes cheaper, on an existing build:

- `--what table`: `create table as select *` of the mart from the build (attached read-only)
  into a scratch DuckDB file, then a checkpoint, under each setting: DuckDB's default
  compression, the costlier methods disabled (`disabled_compression_methods`), no compression
  (`force_compression = 'uncompressed'`), and the same statement into an in-memory database
  (nothing written to disk) as the floor;
- `--what parquet`: the publish's export of the latest `--periods` periods, one `copy` per
  period as `tiering/publish.py` writes them, with each Parquet codec.

Settings alternate within each round (`--repeat` rounds); prints seconds per run, the median
and the bytes written. DuckDB runs as the publish runs it (`tiering.config.duckdb_config`, all
cores, insertion order not kept).

    .venv/bin/python benchmarks/bench_write.py --what table \\
        --database /tmp/bp/c100000/home_first/warehouse.duckdb --repeat 2
    .venv/bin/python benchmarks/bench_write.py --what parquet \\
        --database /tmp/bp/c100000/home_first/serving.duckdb --periods 12 --repeat 3

Results: docs/benchmarks.md ("What writing the tier history costs").
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from tiering.config import duckdb_config

TABLE_SETTINGS = {
    "default": [],
    "costly methods disabled": ["set disabled_compression_methods = 'fsst,chimp,patas,alprd'"],
    "uncompressed": ["set force_compression = 'uncompressed'"],
    "in memory (floor)": None,
}
PARQUET_CODECS = ("snappy", "zstd", "lz4_raw", "uncompressed")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
        else path.stat().st_size


def write_table(database: Path, table: str, setting: list[str] | None,
                scratch: Path) -> tuple[float, int]:
    config = dict(duckdb_config(), preserve_insertion_order=False)
    target = scratch / "table.duckdb"
    con = duckdb.connect(":memory:" if setting is None else str(target), config=config)
    try:
        con.execute(f"attach '{database}' as build (read_only)")
        for statement in setting or []:
            con.execute(statement)
        started = time.perf_counter()
        con.execute(f"create table copied as select * from build.marts.{table}")
        if setting is not None:
            con.execute("checkpoint")
        seconds = time.perf_counter() - started
    finally:
        con.close()
    size = _size(target) if target.exists() else 0
    target.unlink(missing_ok=True)
    return seconds, size


def write_parquet(database: Path, table: str, periods: list, codec: str,
                  scratch: Path) -> tuple[float, int]:
    folder = scratch / codec
    folder.mkdir()
    con = duckdb.connect(str(database), read_only=True,
                         config=dict(duckdb_config(), preserve_insertion_order=False))
    try:
        started = time.perf_counter()
        for value in periods:
            con.execute(f"copy (select * from marts.{table} where period_date = ?) to "
                        f"'{folder / f'{value}.parquet'}' (format parquet, compression "
                        f"'{codec}')", [value])
        seconds = time.perf_counter() - started
    finally:
        con.close()
    size = _size(folder)
    shutil.rmtree(folder)
    return seconds, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("table", "parquet"), required=True)
    parser.add_argument("--database", type=Path, required=True,
                        help="a build (table) or serving (parquet) database, opened read-only")
    parser.add_argument("--table", default="client_tiers")
    parser.add_argument("--periods", type=int, default=12, help="parquet: the latest periods")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench_write_") as tmp:
        scratch = Path(tmp)
        if args.what == "parquet":
            with duckdb.connect(str(args.database), read_only=True) as con:
                periods = [p for (p,) in con.execute(
                    f"select distinct period_date from marts.{args.table} "
                    "order by 1 desc limit ?", [args.periods]).fetchall()]
        for _ in range(args.repeat):
            if args.what == "table":
                for name, setting in TABLE_SETTINGS.items():
                    seconds, sizes[name] = write_table(args.database, args.table, setting,
                                                       scratch)
                    runs.setdefault(name, []).append(seconds)
            else:
                for codec in PARQUET_CODECS:
                    seconds, sizes[codec] = write_parquet(args.database, args.table, periods,
                                                          codec, scratch)
                    runs.setdefault(codec, []).append(seconds)
    for name, seconds in runs.items():
        print(f"{name:26s} median {statistics.median(seconds):7.2f} s  runs "
              f"{', '.join(f'{s:.1f}' for s in seconds)}  {sizes[name] / 1e6:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
