"""Time two versions of one model's select on a built warehouse, alternated, and check they agree.

Each variant is a file holding a compiled select (`dbt compile --select MODEL`, then copy
`target/compiled/.../MODEL.sql` aside before changing the model; compile with TIERING_HOME set
to an empty folder, so that dbt does not hold the measured warehouse while it compiles). The
runs open the warehouse read-only, set the profile's threads and memory limit, and evaluate

    select count(*), sum(hash(t)) from (<select>) as t

so the whole result is computed (every column of every row feeds the fingerprint) but nothing is
written. The variants alternate A, B, A, B, ...; the medians and the ratio B / A are printed, and
the run fails when the two fingerprints differ (the same rows, as a multiset, or not).

    .venv/bin/python benchmarks/bench_select_ab.py --db $TIERING_HOME/warehouse.duckdb \
        --a /tmp/ab/before.sql --b /tmp/ab/after.sql --repeat 3

Results: docs/benchmarks.md ("`int_identity_records_unioned` without the window over every
version").
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import duckdb


def fingerprint(db: Path, sql: str, threads: int, memory: str) -> tuple[float, tuple]:
    con = duckdb.connect(str(db), read_only=True,
                         config={"threads": threads, "memory_limit": memory})
    try:
        started = time.perf_counter()
        row = con.execute(f"select count(*), sum(hash(t)) from ({sql}) as t").fetchall()[0]
        return time.perf_counter() - started, tuple(row)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the warehouse (opened read-only)")
    parser.add_argument("--a", type=Path, required=True, help="compiled select, before")
    parser.add_argument("--b", type=Path, required=True, help="compiled select, after")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="10GB")
    args = parser.parse_args(argv)

    sqls = {name: path.read_text().rstrip().rstrip(";")
            for name, path in (("a", args.a), ("b", args.b))}
    times: dict[str, list[float]] = {"a": [], "b": []}
    prints: dict[str, set] = {"a": set(), "b": set()}
    for run in range(args.repeat):
        for name in ("a", "b"):
            seconds, fp = fingerprint(args.db, sqls[name], args.threads, args.memory)
            times[name].append(seconds)
            prints[name].add(fp)
            print(f"run {run + 1} {name}: {seconds:.1f} s  rows {fp[0]}", flush=True)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"median a {med['a']:.1f} s, b {med['b']:.1f} s, b / a {med['b'] / med['a']:.2f}")
    if prints["a"] != prints["b"] or len(prints["a"]) != 1:
        print(f"the variants differ: a {sorted(prints['a'])} b {sorted(prints['b'])}",
              file=sys.stderr)
        return 1
    print("same rows (count and hash sum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
