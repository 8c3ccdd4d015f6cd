"""Serve client_tiers sorted by client within each period? What it costs and what it saves.

Copies `marts.client_tiers` from a built warehouse (attached read-only) into a scratch DuckDB
file, in one of two ways, and then times a client's tier history on the copy (the BI query of
bench_pipeline.py, 100 random clients of the latest period after a warm-up):

- `ctas`: one `create table ... as select` (what publishing from scratch does);
- `sorted`: one `insert ... where period_date = ? order by client_key` per period, so that the
  rows of a client sit in one or two row groups of each period and DuckDB's min/max per row
  group skips the others.

    .venv/bin/python benchmarks/bench_serving_order.py \
        --build /tmp/bp/c1000000/home_monthly/warehouse.duckdb --variants ctas sorted ctas sorted

Results in docs/benchmarks.md, "Storing each period sorted by client" (not adopted).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import duckdb

from tiering.config import duckdb_config

HISTORY = ("select period_date, tier_code, composite_score from client_tiers "
           "where client_key = ? and profile_code = 'default' order by period_date")


def copy(con: duckdb.DuckDBPyConnection, variant: str) -> float:
    started = time.perf_counter()
    if variant == "ctas":
        con.execute("create table client_tiers as select * from build.marts.client_tiers")
    else:
        con.execute("create table client_tiers as select * from build.marts.client_tiers limit 0")
        periods = [p for (p,) in con.execute(
            "select distinct period_date from build.marts.client_tiers order by 1").fetchall()]
        for period in periods:
            con.execute("insert into client_tiers select * from build.marts.client_tiers "
                        "where period_date = ? order by client_key", [period])
    con.execute("checkpoint")
    return time.perf_counter() - started


def history_latencies(con: duckdb.DuckDBPyConnection, clients: int) -> list[float]:
    keys = [k for (k,) in con.execute(
        "select client_key from (select distinct client_key from client_tiers where period_date "
        f"= (select max(period_date) from client_tiers)) using sample reservoir({clients} rows) "
        "repeatable (7)").fetchall()]
    random.Random(7).shuffle(keys)
    con.execute(HISTORY, [keys[0]]).fetchall()  # warm-up
    latencies = []
    for key in keys:
        started = time.perf_counter()
        con.execute(HISTORY, [key]).fetchall()
        latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, required=True, help="a built warehouse.duckdb")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/serving_order"))
    parser.add_argument("--variants", nargs="+", choices=["ctas", "sorted"],
                        default=["ctas", "sorted", "ctas", "sorted"])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--memory", default=duckdb_config()["memory_limit"],
                        help="DuckDB memory limit (default: the publish's, "
                             "TIERING_DUCKDB_PYTHON_MEMORY)")
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        path = args.scratch / f"{variant}.duckdb"
        path.unlink(missing_ok=True)
        con = duckdb.connect(str(path), config={"threads": 2, "memory_limit": args.memory})
        try:
            con.execute(f"attach '{args.build}' as build (read_only)")
            seconds = copy(con, variant)
            lat = history_latencies(con, args.clients)
            p95 = lat[max(int(round(0.95 * len(lat))) - 1, 0)]
            print(f"{variant}: copy {seconds:.1f} s, tier history p50 "
                  f"{statistics.median(lat):.1f} ms p95 {p95:.1f} ms, "
                  f"file {os.path.getsize(path) / 1e9:.2f} GB", flush=True)
        finally:
            con.close()
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
