"""Demo-scale refresh timing (issue 7: "the pipeline itself, after installation, <= 60 s").

    .venv/bin/python benchmarks/bench_refresh.py --workdir /tmp/bench_refresh --repeat 3
    .venv/bin/python benchmarks/bench_refresh.py --kinds first --dbt-starts cold,warm --repeat 5

Simulates the `make run` landing zone once (2,000 clients x 24 months, the Makefile's seed), then
runs `tiering refresh` in a child process:
  first  empty TIERING_HOME and empty dbt target (nothing ingested, no manifest, no parse to reuse)
  warm   the same home again with its last-refresh state removed, so it rebuilds everything
         (ingestion has nothing new; dbt, the risk model, the gates, publish and report all run)
each --repeat times. `--dbt-starts cold,warm` runs each kind twice in every repeat, one after the
other: with each dbt command started cold (TIERING_DBT_WARM=0) and forked from the warm dbt
server (the default; tiering/dbt_warm.py). Prints the median wall and CPU seconds (user + system
of the whole process tree, which a shared machine inflates less than wall time), the seconds per
Dagster step and per GX suite of the last run ($TIERING_HOME/state/step_timings.json) and the
slowest dbt nodes (run_results.json). Results also go to <workdir>/refresh-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = PROJECT_DIR / ".venv" / "bin"
DEMO = {"clients": "2000", "months": "24", "start": "2024-11", "seed": "20261128"}  # Makefile


def timed(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Wall and CPU seconds (the child and everything it waited for) of one command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed; see {log}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}


def dbt_nodes(target: Path, run_id: str, top: int = 15) -> dict[str, float]:
    """Seconds per dbt node over the run's invocations (dagster-dbt: <step>-<run id[:7]>-<id>)."""
    times: dict[str, float] = {}
    for path in target.glob(f"*-{run_id[:7]}-*/run_results.json"):
        for result in json.loads(path.read_text())["results"]:
            name = result["unique_id"].split(".", 1)[0] + ":" + result["unique_id"].split(".")[2]
            times[name] = round(times.get(name, 0.0) + result["execution_time"], 2)
    return dict(sorted(times.items(), key=lambda kv: -kv[1])[:top])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_refresh"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="first,warm")
    parser.add_argument("--dbt-starts", default="warm",
                        help="warm (dbt forked from a warm server, as `tiering` runs it), cold "
                             "(TIERING_DBT_WARM=0), or both: cold,warm, alternated in each repeat")
    args = parser.parse_args()
    starts = args.dbt_starts.split(",")
    work, landing = args.workdir, args.workdir / "landing"
    if not (landing / "crm").is_dir():
        subprocess.run([str(BIN / "tiering"), "simulate", "--out", str(landing), "--truth",
                        str(work / "truth"), *[f"--{k}={v}" for k, v in DEMO.items()]],
                       check=True, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL)
    home, target = work / "home", work / "target"
    env = dict(os.environ, TIERING_HOME=str(home), TIERING_LANDING_DIR=str(landing),
               DBT_TARGET_PATH=str(target))
    env.pop("TIERING_GX_UNCOMMITTED", None)
    runs: dict[str, list[dict]] = {}
    last_steps: dict[str, dict] = {}
    for i in range(args.repeat):
        for kind in args.kinds.split(","):
            for start in starts:
                name = kind if len(starts) == 1 else f"{kind} ({start} dbt)"
                if kind == "first" or not (home / "warehouse.duckdb").exists():
                    shutil.rmtree(home, ignore_errors=True)
                    shutil.rmtree(target, ignore_errors=True)
                (home / "state" / "last_refresh.json").unlink(missing_ok=True)
                run_env = {**env, "TIERING_DBT_WARM": "0" if start == "cold" else "1"}
                runs.setdefault(name, []).append(timed(
                    [str(BIN / "tiering"), "refresh"], run_env,
                    work / "logs" / f"{kind}-{start}-{i}.log"))
                print(name, i, runs[name][-1], flush=True)
                last_steps[name] = json.loads((home / "state" / "step_timings.json").read_text())
    results: dict[str, dict] = {}
    for name, name_runs in runs.items():
        steps = last_steps[name]
        results[name] = {
            "wall_s": statistics.median(r["wall_s"] for r in name_runs),
            "cpu_s": statistics.median(r["cpu_s"] for r in name_runs),
            "runs": name_runs, "steps_s": steps["steps_s"], "gx_suites_s": steps["gx_suites_s"],
            "dbt_nodes_s": dbt_nodes(target, steps["run_id"])}
    (work / "refresh-results.json").write_text(json.dumps(results, indent=2))
    for kind, result in results.items():
        print(f"\n{kind}: median wall {result['wall_s']} s, CPU {result['cpu_s']} s "
              f"(runs: {[r['wall_s'] for r in result['runs']]})")
        print("  steps:", json.dumps(result["steps_s"]))
        print("  slowest dbt nodes:", json.dumps(result["dbt_nodes_s"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
