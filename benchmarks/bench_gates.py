"""Time one gate's suites on a built home, with chunked suites' `materialize` honoured and ignored.

A gate (`tiering.quality.run_layer`) runs every suite of a layer on an in-memory DuckDB that
attaches the build database read-only and reads the raw Parquet. A chunked suite runs its query
once for the chunk values and once per chunk; one marked `materialize` (docs/quality.md) runs it
once into a temporary table instead. This script runs the layer --repeat times each way,
alternated (honoured, ignored, honoured, ...), prints each suite's median seconds both ways, and
checks that both ways gave the same results (success and observed value of every expectation).

    .venv/bin/python benchmarks/bench_gates.py --home /tmp/bp/c100000/home_first --layer unified

The home is only read (validation results go to a scratch folder). Results:
docs/benchmarks.md ("The coverage gate's query run once").
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a built TIERING_HOME")
    parser.add_argument("--layer", default="unified", choices=("raw", "unified", "marts"))
    parser.add_argument("--as-of", default=None,
                        help="YYYY-MM-DD (default: the home's last refresh, else 2026-10-31)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each way")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench_gates_"))
    os.environ["TIERING_HOME"] = str(args.home)
    os.environ["TIERING_GX_UNCOMMITTED"] = str(scratch)
    from tiering import quality
    from tiering.config import get_paths

    as_of = date.fromisoformat(args.as_of or "2026-10-31")
    frames = quality.Inputs.frames

    def ignoring(self, sql, chunk_by, materialize=False):
        return frames(self, sql, chunk_by, False)

    times: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    outcomes: dict[bool, set] = {True: set(), False: set()}
    try:
        for run in range(args.repeat):
            for honoured in (True, False):
                quality.Inputs.frames = frames if honoured else ignoring
                timings: dict[str, float] = {}
                results = quality.run_layer(args.layer, get_paths(), as_of, timings=timings,
                                            docs="on_failure")
                outcomes[honoured].add(tuple(sorted(
                    (r.suite, r.expectation, r.success, str(r.observed)) for r in results)))
                for suite, seconds in timings.items():
                    times[honoured].setdefault(suite, []).append(seconds)
                total = sum(timings.values())
                print(f"run {run + 1} materialize {'honoured' if honoured else 'ignored'}: "
                      f"{total:.2f} s", flush=True)
    finally:
        quality.Inputs.frames = frames
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n{'suite':40} {'honoured':>9} {'ignored':>9}   (median s of {args.repeat})")
    for suite in sorted(times[False], key=lambda s: -statistics.median(times[False][s])):
        on = statistics.median(times[True].get(suite, [0.0]))
        off = statistics.median(times[False][suite])
        print(f"{suite:40} {on:9.2f} {off:9.2f}")
    on_total = statistics.median([sum(v[i] for v in times[True].values())
                                  for i in range(args.repeat)])
    off_total = statistics.median([sum(v[i] for v in times[False].values())
                                   for i in range(args.repeat)])
    print(f"{'layer':40} {on_total:9.2f} {off_total:9.2f}")
    if len(outcomes[True] | outcomes[False]) != 1:
        print("the two ways gave different results", file=sys.stderr)
        return 1
    print("same results both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
