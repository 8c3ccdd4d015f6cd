"""Time the publish's Parquet export of a period mart with and without insertion order kept.

The publish exports each period of `client_tiers` from the serving file it has just written
(`tiering/publish.py`, `_export`): one `copy (select ... where period_date = ?) to ... (format
parquet)` per period. With DuckDB's `preserve_insertion_order` on (its default), the writer keeps
the scan's order; off, the threads write their row groups as they finish. This script exports the
last --periods periods of a serving file's mart both ways, alternated (on, off, on, off, ...),
into a scratch folder, times each export, and checks that both ways wrote the same rows (count
and sum of row hashes over the files, as a multiset: the order inside a file may differ).

    .venv/bin/python benchmarks/bench_export.py \
        --serving /tmp/bp/c1000000/home_monthly/serving.duckdb --periods 6 --repeat 3

Results: docs/benchmarks.md ("The publish's Parquet export without insertion order").
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
from tiering.publish import PERIOD_TABLES, SCHEMA


def export(serving: Path, table: str, periods: list, folder: Path, keep_order: bool) -> float:
    """Export the periods of one table one file each, as the publish does; seconds taken."""
    config = dict(duckdb_config(), preserve_insertion_order=keep_order)
    con = duckdb.connect(str(serving), read_only=True, config=config)
    try:
        started = time.perf_counter()
        for value in periods:
            target = str(folder / f"{value}.parquet").replace("'", "''")
            con.execute(f'copy (select * from {SCHEMA}."{table}" where '
                        f'"{PERIOD_TABLES[table]}" = ?) to \'{target}\' (format parquet)',
                        [value])
        return time.perf_counter() - started
    finally:
        con.close()


def fingerprint(folder: Path) -> tuple:
    pattern = str(folder / "*.parquet").replace("'", "''")
    with duckdb.connect() as con:
        return tuple(con.execute(
            f"select count(*), sum(hash(t)) from read_parquet('{pattern}') as t").fetchone())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serving", type=Path, required=True,
                        help="a serving file (opened read-only)")
    parser.add_argument("--table", default="client_tiers", choices=sorted(PERIOD_TABLES))
    parser.add_argument("--periods", type=int, default=6, help="the latest periods exported")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="where the files are written (default: a temporary folder)")
    args = parser.parse_args(argv)

    period = PERIOD_TABLES[args.table]
    with duckdb.connect(str(args.serving), read_only=True) as con:
        periods = [p for (p,) in con.execute(
            f'select distinct "{period}" from {SCHEMA}."{args.table}" order by 1 desc '
            f"limit {args.periods}").fetchall()]
    scratch = Path(tempfile.mkdtemp(dir=args.scratch, prefix="bench_export_"))
    times: dict[bool, list[float]] = {True: [], False: []}
    prints: dict[bool, set] = {True: set(), False: set()}
    try:
        for run in range(args.repeat):
            for keep_order in (True, False):
                folder = scratch / f"{run}-{keep_order}"
                folder.mkdir()
                seconds = export(args.serving, args.table, periods, folder, keep_order)
                times[keep_order].append(seconds)
                prints[keep_order].add(fingerprint(folder))
                shutil.rmtree(folder)
                print(f"run {run + 1} preserve_insertion_order={str(keep_order).lower()}: "
                      f"{seconds:.1f} s for {len(periods)} periods", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    on, off = (statistics.median(times[k]) for k in (True, False))
    print(f"median on {on:.1f} s, off {off:.1f} s, off / on {off / on:.2f}")
    if len(prints[True] | prints[False]) != 1:
        print(f"the exports differ: {prints}", file=sys.stderr)
        return 1
    print("same rows (count and hash sum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
