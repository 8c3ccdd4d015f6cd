"""Time two versions of the project building the same models on one built warehouse, alternated.

Where bench_select_ab.py times one model's select, this times what a refresh pays for a set of
models: `dbt build` (the writes, the incremental strategy's delete and insert, the data tests)
of a selection, from two checkouts of the project (a git worktree of the revision before a
change, and the working tree), on one warehouse, as of one date. The runs alternate A, B, A,
B, ...; each is one `dbt build` process, timed whole, and its run_results.json gives the time of
every model and test. Medians per side and the ratio B / A are printed, with the models' medians.

Use it for changes that rebuild the same periods on both sides: a run as of the warehouse's own
as-of date rebuilds exactly what a monthly refresh rebuilds for the period models (the as-of
period and the open outcome windows), so repeated runs measure the monthly's cost of those
models without changing what the warehouse holds. The first run of a side that adds a model is
its first build: run each side once with --warm 1 (not timed) before the timed runs. With
--full-refresh every run is a first build of the selection.

    git worktree add /tmp/wt_before HEAD
    .venv/bin/python benchmarks/bench_dbt_ab.py --home $TIERING_HOME --as-of 2026-10-31 \\
        --a-project /tmp/wt_before --a-select "int_dynamics_outcomes_labelled tier_performance_by_tier tier_performance" \\
        --b-project . --b-select "int_dynamics_cohort_tiers int_dynamics_cohort_outcomes tier_performance_by_tier tier_performance" \\
        --warm 1 --repeat 3

Results: docs/benchmarks.md ("The monitoring's outcomes per client, not per profile").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DBT = str(Path(sys.executable).parent / "dbt")


def build(project: Path, select: str, home: Path, as_of: str, target: Path,
          full_refresh: bool = False) -> dict:
    env = dict(os.environ, TIERING_HOME=str(home), DBT_TARGET_PATH=str(target),
               DBT_LOG_PATH=str(target / "logs"))
    variables = json.dumps({"as_of_date": as_of, "raw_root": str(home / "raw")})
    started = time.perf_counter()
    done = subprocess.run([DBT, "build", "--select", *select.split(), "--vars", variables,
                           "--profiles-dir", ".", *(["--full-refresh"] if full_refresh else [])],
                          cwd=project, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"dbt build failed in {project}:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = {r["unique_id"].split(".", 2)[-1]: r["execution_time"] for r in results}
    return {"wall_s": wall, "nodes_s": nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="TIERING_HOME of the warehouse")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--a-project", type=Path, required=True)
    parser.add_argument("--a-select", required=True)
    parser.add_argument("--b-project", type=Path, required=True)
    parser.add_argument("--b-select", required=True)
    parser.add_argument("--warm", type=int, default=0, help="untimed runs of each side first")
    parser.add_argument("--full-refresh", action="store_true",
                        help="time first builds (dbt build --full-refresh) instead")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the runs as JSON here")
    args = parser.parse_args()

    sides = {"A": (args.a_project.resolve(), args.a_select),
             "B": (args.b_project.resolve(), args.b_select)}
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    for round_ in range(args.warm + args.repeat):
        for side, (project, select) in sides.items():
            run = build(project, select, args.home, args.as_of,
                        args.home / f"target-ab-{side.lower()}", args.full_refresh)
            label = "warm" if round_ < args.warm else "timed"
            print(f"{side} {label} {run['wall_s']:.1f} s", flush=True)
            if round_ >= args.warm:
                runs[side].append(run)

    medians = {side: statistics.median(r["wall_s"] for r in rs) for side, rs in runs.items()}
    print(f"\nA median {medians['A']:.1f} s, B median {medians['B']:.1f} s, "
          f"B / A {medians['B'] / medians['A']:.2f}")
    for side, rs in runs.items():
        names = sorted({n for r in rs for n in r["nodes_s"]})
        timed = {n: statistics.median(r["nodes_s"].get(n, 0.0) for r in rs) for n in names}
        print(f"\n{side} per node (median s, at least 0.5):")
        for name, seconds in sorted(timed.items(), key=lambda item: -item[1]):
            if seconds >= 0.5:
                print(f"  {seconds:7.1f}  {name}")
    if args.out:
        args.out.write_text(json.dumps({"runs": runs, "medians_s": medians}, indent=1))


if __name__ == "__main__":
    main()
