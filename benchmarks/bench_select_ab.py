"""Time two versions of one model's select on a built warehouse, alternated, and check they agree.

Each variant is a file holding a compiled select (`dbt compile --select MODEL`, then copy
`target/compiled/.../MODEL.sql` aside before changing the model; compile with TIERING_HOME set
to an empty folder, so that dbt does not hold the measured warehouse while it compiles). The
runs open the warehouse read-only, set the profile's threads and memory limit, and evaluate

    select count(*), sum(hash(t)) from (<select>) as t

so the whole result is computed (every column of every row feeds the fingerprint) but nothing is
written. The variants alternate A, B, A, B, ...; the medians of wall and CPU seconds (user +
system of this process, DuckDB's threads included: steadier than wall on a shared machine) and
the ratios B / A are printed, and the run fails when the two fingerprints differ (the same
rows, as a multiset, or not). `--profile N` adds one run of each variant under DuckDB's
profiler and prints its N costliest operators (CPU seconds summed over threads): where a
select's time goes, before changing it.

    .venv/bin/python benchmarks/bench_select_ab.py --db $TIERING_HOME/warehouse.duckdb \
        --a /tmp/ab/before.sql --b /tmp/ab/after.sql --repeat 3 --profile 8

Results: docs/benchmarks.md ("`int_identity_records_unioned` without the window over every
version"; "Where `client_tiers`' statement goes").
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fingerprint(db: Path, sql: str, threads: int, memory: str,
                profile: Path | None = None) -> tuple[float, float, tuple]:
    """Wall and CPU seconds of the select's fingerprint, and the fingerprint."""
    con = duckdb.connect(str(db), read_only=True,
                         config={"threads": threads, "memory_limit": memory})
    try:
        if profile is not None:
            con.execute("set enable_profiling = 'json'")
            con.execute(f"set profiling_output = '{profile}'")
        started, cpu = time.perf_counter(), _cpu_seconds()
        row = con.execute(f"select count(*), sum(hash(t)) from ({sql}) as t").fetchall()[0]
        return time.perf_counter() - started, _cpu_seconds() - cpu, tuple(row)
    finally:
        con.close()


def costliest_operators(profile: Path, top: int) -> list[tuple[float, str, int, str]]:
    """(seconds, operator, rows, detail) of the profile's `top` costliest operators."""
    found: list[tuple[float, str, int, str]] = []

    def walk(node: dict) -> None:
        info = node.get("extra_info") or {}
        detail = info.get("Join Type") or info.get("Table") or str(info.get("Projections", ""))
        found.append((float(node.get("operator_timing", node.get("timing", 0.0))),
                      node.get("operator_name", node.get("name", "?")),
                      int(node.get("operator_cardinality", node.get("intermediate_rows", 0))),
                      str(detail)[:90]))
        for child in node.get("children", []):
            walk(child)

    tree = json.loads(profile.read_text())
    for root in tree.get("operator", tree.get("children", [])):
        walk(root)
    return sorted(found, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the warehouse (opened read-only)")
    parser.add_argument("--a", type=Path, required=True, help="compiled select, before")
    parser.add_argument("--b", type=Path, required=True, help="compiled select, after")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="10GB")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="one more run of each under the profiler: its N costliest operators")
    args = parser.parse_args(argv)

    sqls = {name: path.read_text().rstrip().rstrip(";")
            for name, path in (("a", args.a), ("b", args.b))}
    times: dict[str, list[float]] = {"a": [], "b": []}
    cpus: dict[str, list[float]] = {"a": [], "b": []}
    prints: dict[str, set] = {"a": set(), "b": set()}
    for run in range(args.repeat):
        for name in ("a", "b"):
            seconds, cpu, fp = fingerprint(args.db, sqls[name], args.threads, args.memory)
            times[name].append(seconds)
            cpus[name].append(cpu)
            prints[name].add(fp)
            print(f"run {run + 1} {name}: {seconds:.1f} s, CPU {cpu:.1f} s  rows {fp[0]}",
                  flush=True)
    med = {name: statistics.median(values) for name, values in times.items()}
    cpu_med = {name: statistics.median(values) for name, values in cpus.items()}
    print(f"median a {med['a']:.1f} s, b {med['b']:.1f} s, b / a {med['b'] / med['a']:.2f}; "
          f"CPU a {cpu_med['a']:.1f} s, b {cpu_med['b']:.1f} s, "
          f"b / a {cpu_med['b'] / cpu_med['a']:.2f}")
    if args.profile:
        with tempfile.TemporaryDirectory() as scratch:
            for name in ("a", "b"):
                path = Path(scratch) / f"{name}.json"
                fingerprint(args.db, sqls[name], args.threads, args.memory, profile=path)
                print(f"costliest operators of {name} (CPU s summed over threads, rows):")
                for seconds, operator, rows, detail in costliest_operators(path, args.profile):
                    print(f"  {seconds:7.2f}  {operator:<18} {rows:>11,}  {detail}")
    if prints["a"] != prints["b"] or len(prints["a"]) != 1:
        print(f"the variants differ: a {sorted(prints['a'])} b {sorted(prints['b'])}",
              file=sys.stderr)
        return 1
    print("same rows (count and hash sum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
