"""End-to-end benchmark of the pipeline (issue 7): refreshes, backfill, BI queries, lower bound.

    # one scale; results to <workdir>/results-<clients>.json and a Markdown table on stdout
    .venv/bin/python benchmarks/bench_pipeline.py --clients 100000 --workdir /work/bench
    # the growth table across scales already measured
    .venv/bin/python benchmarks/bench_pipeline.py --compare /work/bench/results-*.json

Every stage runs the real command line (`tiering refresh`, `tiering backfill`) in a child process
against its own TIERING_HOME, on a landing zone simulated once per scale (`tiering simulate`,
fixed seed). Wall time is the child's; peak memory is the highest sum of RSS over the child's whole
process tree (sampled from /proc every 0.2 s: dbt, Dagster and ingestion workers included).
Stages that take under a minute are repeated (`--repeat`, median reported); longer ones run once.

Stages:
  first_refresh    empty warehouse, refresh as of the latest month (ingest, build, check,
                   publish, report)
  monthly_refresh  the warehouse refreshed as of the month before, then one new month delivered
                   and refreshed
  backfill         empty warehouse, `tiering backfill` of every simulated month
  restate          `tiering backfill --restate` of every simulated month on the warehouse the
                   monthly (else the first) refresh left: the whole history rebuilt in one run
                   (run it last: it rewrites that warehouse and its serving copy)
  lower_bound      one DuckDB pass (2 threads) reading every delivered file once and aggregating
                   it: CSV/JSONL through read_csv/read_json, Parquet through read_parquet, GBK files
                   as bytes (DuckDB has no GBK reader built in) with their lines counted
  bi_queries       p50/p95 latency of BI-style queries on the published serving database
Where the time goes: per dbt model (run_results.json of each dbt invocation), per Dagster step
($TIERING_HOME/state/step_timings.json, written by every run) and per GX suite (the same file).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = PROJECT_DIR / ".venv" / "bin"
SEED = 20261128
START = "2024-11"
REPEAT_BELOW_S = 60.0

# Issue 7 targets (seconds, bytes, ratios) at 1M clients.
TARGETS = {
    "first_refresh_s": 600,
    "backfill_s": 1200,
    "monthly_over_first": 0.25,
    "peak_rss_gb": 12,
    "first_over_lower_bound": 15,
    "bi_p95_ms": 200,
    "growth_1m_over_100k": 12,
}


# ------------------------------------------------------------------------- process-tree memory
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        pid = int(text.split(" ", 1)[0])
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
    return children


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> int:
    children, total, todo = _children_map(), 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_bytes(pid)
        todo += children.get(pid, [])
    return total


def run(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Run a command; wall seconds, peak RSS of its process tree, exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with open(log, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(child.pid))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}); log {log}:\n{tail}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak / 2**20)}


# --------------------------------------------------------------------------------- landing
def simulate(workdir: Path, clients: int, months: int) -> Path:
    landing = workdir / "landing"
    if not any(landing.glob("*/*/_manifest.json")):
        shutil.rmtree(workdir, ignore_errors=True)
        result = run([str(BIN / "tiering"), "simulate", "--out", str(landing),
                      "--truth", str(workdir / "truth"), "--clients", str(clients),
                      "--months", str(months), "--start", START, "--seed", str(SEED)],
                     dict(os.environ), workdir / "logs" / "simulate.log")
        (workdir / "simulate.json").write_text(json.dumps(result))
    return landing


def delivery_dates(landing: Path) -> list[date]:
    return sorted({date.fromisoformat(p.parent.name) for p in landing.glob("*/*/_manifest.json")})


def landing_view(landing: Path, view: Path, up_to: date) -> Path:
    """A landing zone of symlinks to the deliveries cut on or before `up_to`."""
    shutil.rmtree(view, ignore_errors=True)
    for folder in landing.glob("*/*"):
        if folder.is_dir() and date.fromisoformat(folder.name) <= up_to:
            target = view / folder.parent.name / folder.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(folder.resolve(), target_is_directory=True)
    return view


def env_for(home: Path, landing: Path, target: Path) -> dict[str, str]:
    env = dict(os.environ, TIERING_HOME=str(home), TIERING_LANDING_DIR=str(landing),
               DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(target / "logs"))
    env.pop("TIERING_DAGSTER_PERSIST", None)
    return env


# ----------------------------------------------------------------------------- breakdowns
def dbt_model_times(target: Path) -> dict[str, float]:
    """Seconds per dbt node over every invocation's run_results.json under `target`."""
    times: dict[str, float] = {}
    for path in Path(target).rglob("run_results.json"):
        for result in json.loads(path.read_text()).get("results", []):
            node = result["unique_id"]
            if node.startswith(("model.", "seed.", "snapshot.")):
                name = node.split(".", 2)[-1]
                times[name] = round(times.get(name, 0.0) + float(result["execution_time"]), 2)
    return dict(sorted(times.items(), key=lambda kv: -kv[1]))


def step_times(home: Path) -> dict:
    path = home / "state" / "step_timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def repeated(measure, repeat: int) -> dict:
    """Run `measure` once, again up to `repeat` times in all if it took under a minute; the
    median wall, the max peak, every run's wall."""
    runs = [measure()]
    while len(runs) < repeat and runs[0]["wall_s"] < REPEAT_BELOW_S:
        runs.append(measure())
    walls = [r["wall_s"] for r in runs]
    best = dict(runs[-1])
    best.update(wall_s=round(statistics.median(walls), 2), runs_s=walls,
                peak_rss_mb=max(r["peak_rss_mb"] for r in runs))
    return best


# ---------------------------------------------------------------------------------- stages
def stage_first_refresh(workdir: Path, landing: Path, repeat: int) -> dict:
    def once() -> dict:
        home, target = fresh(workdir / "home_first"), fresh(workdir / "target_first")
        result = run([str(BIN / "tiering"), "refresh"], env_for(home, landing, target),
                     workdir / "logs" / "first_refresh.log")
        result["dbt_models_s"] = dbt_model_times(target)
        result["steps"] = step_times(home)
        return result

    return repeated(once, repeat)


def stage_monthly_refresh(workdir: Path, landing: Path, repeat: int) -> dict:
    dates = delivery_dates(landing)
    previous, last = dates[-2], dates[-1]
    base, view = workdir / "home_monthly_base", workdir / "landing_monthly"
    landing_view(landing, view, previous)
    fresh(base)
    target_base = fresh(workdir / "target_mb")
    base_run = run([str(BIN / "tiering"), "refresh"], env_for(base, view, target_base),
                   workdir / "logs" / "monthly_base.log")
    # the base is a first refresh as of the month before (one month fewer): recorded, so that a
    # scale where two first refreshes cost too much can take its ratio from this one run
    base_run["dbt_models_s"] = dbt_model_times(target_base)
    base_run["steps"] = step_times(base)

    def once() -> dict:
        home = workdir / "home_monthly"
        shutil.rmtree(home, ignore_errors=True)
        if repeat == 1:
            base.rename(home)  # one run consumes the base: no second copy of a 1M warehouse
        else:
            shutil.copytree(base, home, symlinks=True)
        landing_view(landing, view, last)
        target = fresh(workdir / "target_monthly")
        result = run([str(BIN / "tiering"), "refresh"], env_for(home, view, target),
                     workdir / "logs" / "monthly_refresh.log")
        landing_view(landing, view, previous)
        result["dbt_models_s"] = dbt_model_times(target)
        result["steps"] = step_times(home)
        return result

    return {**repeated(once, repeat), "base_first_refresh": base_run}


def stage_backfill(workdir: Path, landing: Path, repeat: int) -> dict:
    dates = delivery_dates(landing)

    def once() -> dict:
        home, target = fresh(workdir / "home_backfill"), fresh(workdir / "target_backfill")
        result = run([str(BIN / "tiering"), "backfill", "--from", f"{dates[0]:%Y-%m}",
                      "--to", f"{dates[-1]:%Y-%m}"], env_for(home, landing, target),
                     workdir / "logs" / "backfill.log")
        result["months"] = len(dates)
        return result

    return repeated(once, repeat)


def stage_restate(workdir: Path, landing: Path, repeat: int) -> dict:
    """The whole history rebuilt in one run on an existing warehouse: the monthly refresh's
    (its landing view holds every month after that stage) or the first refresh's."""
    dates = delivery_dates(landing)
    for name, view in (("home_monthly", workdir / "landing_monthly"), ("home_first", landing)):
        home = workdir / name
        if (home / "warehouse.duckdb").exists():
            break
    else:
        raise SystemExit("restate: no built warehouse (run first_refresh or monthly_refresh)")
    landing_view(landing, workdir / "landing_monthly", dates[-1])
    target = fresh(workdir / "target_restate")
    result = run([str(BIN / "tiering"), "backfill", "--restate", "--from", f"{dates[0]:%Y-%m}",
                  "--to", f"{dates[-1]:%Y-%m}"], env_for(home, view, target),
                 workdir / "logs" / "restate.log")
    result["months"] = len(dates)
    result["home"] = name
    result["dbt_models_s"] = dbt_model_times(target)
    result["steps"] = step_times(home)
    return result


LOWER_BOUND_CHILD = r"""
import glob, json, sys, duckdb
import numpy as np
landing = sys.argv[1]
con = duckdb.connect()
con.execute("set threads = 2")
rows = 0
def q(sql):
    return con.execute(sql).fetchone()
for path in sorted(glob.glob(f"{landing}/*/*/*.*")):
    if path.endswith("_manifest.json"):
        continue
    manifest = json.load(open(path.rsplit("/", 1)[0] + "/_manifest.json"))
    spec = manifest["files"][path.rsplit("/", 1)[1]]
    lit = "'" + path.replace("'", "''") + "'"
    if (spec.get("encoding") or "utf-8").lower() == "gbk":  # bytes read once, lines counted
        rows += int(np.count_nonzero(np.frombuffer(open(path, "rb").read(), np.uint8) == 10)) - 1
    elif path.endswith(".csv"):
        n, = q(f"select count(*) from read_csv({lit}, header = true, all_varchar = true, "
               f"ignore_errors = true, strict_mode = false)")
        rows += n
    elif path.endswith(".jsonl"):
        n, = q(f"select count(*) from read_json({lit}, format = 'newline_delimited', "
               f"ignore_errors = true)")
        rows += n
    else:
        n, = q(f"select count(*) from read_parquet({lit})")
        rows += n
print(json.dumps({"rows": rows}))
"""


def stage_lower_bound(workdir: Path, landing: Path, repeat: int) -> dict:
    def once() -> dict:
        log = workdir / "logs" / "lower_bound.log"
        result = run([sys.executable, "-c", LOWER_BOUND_CHILD, str(landing)], dict(os.environ),
                     log)
        result.update(json.loads(log.read_text().strip().splitlines()[-1]))
        return result

    return repeated(once, repeat)


def bi_queries(serving: Path, runs: int = 30) -> dict:
    import duckdb

    con = duckdb.connect(str(serving), read_only=True)
    con.execute("set search_path = 'marts,main'")  # the BI marts live in schema marts
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables")
              .fetchall()}
    keys = [r[0] for r in con.execute(
        "select client_key from client_tiers_current using sample 200 rows").fetchall()]
    provinces = [r[0] for r in con.execute(
        "select distinct province from dim_clients where province is not null").fetchall()]
    projects = [r[0] for r in con.execute(
        "select distinct project_code from project_partner_fit").fetchall()] or [""]
    latest = con.execute("select max(period_date) from client_tiers").fetchone()[0]
    migration = (
        "select from_tier_code, to_tier_code, client_count from tier_migrations "
        "where period_date = ? order by 1, 2"
        if "tier_migrations" in tables else
        "select a.tier_code, b.tier_code, count(*) from client_tiers a join client_tiers b "
        "on a.client_key = b.client_key and a.profile_code = b.profile_code "
        "and b.period_date = ? and a.period_date = (select max(period_date) from client_tiers "
        "where period_date < ?) where a.profile_code = 'default' group by 1, 2 order by 1, 2")
    queries = {
        "tier distribution by period": (
            "select period_date, tier_code, client_count from tier_distribution "
            "where profile_code = 'default' order by 1, 2"
            if "tier_distribution" in tables else
            "select period_date, tier_code, count(*) from client_tiers "
            "where profile_code = 'default' group by 1, 2 order by 1, 2", lambda: []),
        # the same figures grouped from the history, as a BI tool without the mart would
        "tier distribution by period, grouped from client_tiers": (
            "select period_date, tier_code, count(*) from client_tiers "
            "where profile_code = 'default' group by 1, 2 order by 1, 2", lambda: []),
        "a client's tier history": (
            "select period_date, tier_code, composite_score from client_tiers "
            "where client_key = ? and profile_code = 'default' order by period_date",
            lambda: [random.choice(keys)]),
        "top clients of a tier in a region": (
            "select t.client_key, c.registered_name, t.composite_score "
            "from client_tiers_current t join dim_clients c on t.client_key = c.client_key "
            "where t.tier_code = 'A' and c.province = ? order by t.composite_score desc limit 20",
            lambda: [random.choice(provinces)]),
        "a migration matrix": (migration, lambda: [latest] if "tier_migrations" in tables
                               else [latest, latest]),
        "a project's candidate list": (
            "select * from project_partner_fit where project_code = ? order by 1, 2",
            lambda: [random.choice(projects)]),
    }
    out = {}
    random.seed(SEED)
    for name, (sql, params) in queries.items():
        con.execute(sql, params()).fetchall()  # warm
        latencies = []
        for _ in range(runs):
            started = time.perf_counter()
            con.execute(sql, params()).fetchall()
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        out[name] = {"p50_ms": round(statistics.median(latencies), 1),
                     "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1)}
    con.close()
    return out


# ------------------------------------------------------------------------------ code measured
# What a refresh runs (orchestration.state.CODE_PATHS): every dbt invocation parses these again,
# so an edit made while a benchmark runs is measured by the stages after it.
def code_state() -> dict:
    """The commit, whether the code differs from it, and a digest of the code's files."""
    from orchestration.state import CODE_PATHS, code_digest

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    status = git("status", "--porcelain", "--", *CODE_PATHS)
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(status),
            "digest": code_digest()}


def check_code_unchanged(results: dict, stage: str) -> None:
    """Record (and say loudly) that the code changed while `stage` ran."""
    if code_state()["digest"] != results["code"]["digest"]:
        results["code"].setdefault("changed_during", []).append(stage)
        print(f"WARNING: the project's code changed while {stage} ran: its figures measure "
              "a mix of versions", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ report
def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 2**20
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.platform()}"


def markdown(results: dict) -> str:
    lines = [f"clients {results['clients']:,} × {results['months']} months; {results['machine']}"]
    code = results.get("code")
    if code:
        lines.append(f"code: {code['commit']}{' with uncommitted changes' if code['dirty'] else ''}"
                     f" (digest {code['digest']})")
        if code.get("changed_during"):
            lines.append(f"WARNING: the code changed during {', '.join(code['changed_during'])}")
    lines += ["", "| stage | wall (median) | runs | peak RSS (tree) |", "| --- | --- | --- | --- |"]
    for stage in ("first_refresh", "monthly_refresh", "backfill", "restate", "lower_bound"):
        r = results["stages"].get(stage)
        if r:
            lines.append(f"| {stage} | {r['wall_s']:.1f} s | "
                         f"{', '.join(f'{w:.1f}' for w in r.get('runs_s', [r['wall_s']]))} | "
                         f"{r['peak_rss_mb']:,} MB |")
    base = results["stages"].get("monthly_refresh", {}).get("base_first_refresh")
    if base:
        lines.append(f"| first refresh as of the month before (monthly base) | "
                     f"{base['wall_s']:.1f} s | 1 | {base['peak_rss_mb']:,} MB |")
    ratios = results.get("ratios", {})
    if ratios:
        lines += ["", *(f"- {k}: {v}" for k, v in ratios.items())]
    bi = results["stages"].get("bi_queries")
    if bi:
        lines += ["", "| BI query | p50 | p95 |", "| --- | --- | --- |"]
        lines += [f"| {k} | {v['p50_ms']} ms | {v['p95_ms']} ms |" for k, v in bi.items()]
    first = results["stages"].get("first_refresh", {})
    if first.get("dbt_models_s"):
        lines += ["", "Slowest dbt models in the first refresh (s): " + ", ".join(
            f"{k} {v}" for k, v in list(first["dbt_models_s"].items())[:10])]
    if first.get("steps"):
        lines += ["", "Dagster steps / GX suites in the first refresh (s): " + json.dumps(
            first["steps"], ensure_ascii=False)]
    return "\n".join(lines)


def compare(files: list[Path]) -> str:
    runs = sorted((json.loads(f.read_text()) for f in files), key=lambda r: r["clients"])
    stages = ("first_refresh", "monthly_refresh", "backfill", "restate", "lower_bound")
    lines = ["| clients | " + " | ".join(stages) + " |", "| --- |" + " --- |" * len(stages)]
    for r in runs:
        lines.append(f"| {r['clients']:,} | " + " | ".join(
            f"{r['stages'][s]['wall_s']:.1f} s" if s in r["stages"] else "–" for s in stages)
            + " |")
    for a, b in zip(runs, runs[1:]):
        lines.append(f"| growth {a['clients']:,} → {b['clients']:,} | " + " | ".join(
            f"{b['stages'][s]['wall_s'] / a['stages'][s]['wall_s']:.1f}×"
            if s in a["stages"] and s in b["stages"] else "–" for s in stages) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tiering-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", default="first_refresh,monthly_refresh,backfill,lower_bound,"
                                            "bi_queries")
    parser.add_argument("--compare", nargs="+", type=Path, help="results files to tabulate")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(args.compare))
        return 0
    workdir = (args.workdir / f"c{args.clients}").resolve()
    landing = simulate(workdir, args.clients, args.months)
    wanted = args.stages.split(",")
    results_path = args.workdir.resolve() / f"results-{args.clients}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"stages": {}}
    results.update(clients=args.clients, months=args.months, machine=machine(),
                   measured_at=time.strftime("%Y-%m-%d %H:%M"), code=code_state())
    stages = {"first_refresh": stage_first_refresh, "monthly_refresh": stage_monthly_refresh,
              "backfill": stage_backfill, "restate": stage_restate,
              "lower_bound": stage_lower_bound}
    for name in wanted:
        if name in stages:
            print(f"{name} ...", flush=True)
            results["stages"][name] = stages[name](workdir, landing, args.repeat)
            print(f"  {results['stages'][name]['wall_s']} s", flush=True)
            check_code_unchanged(results, name)
            results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    if "bi_queries" in wanted:
        # the first refresh's serving database, else the monthly refresh's (same scale)
        serving = next((home / "serving.duckdb" for home in
                        (workdir / "home_first", workdir / "home_monthly")
                        if (home / "serving.duckdb").exists()), None)
        if serving:
            results["stages"]["bi_queries"] = bi_queries(serving)
            results["bi_queries_on"] = serving.parent.name
    s = results["stages"]
    ratios = {}
    if "first_refresh" in s and "monthly_refresh" in s:
        ratios["monthly / first refresh"] = round(
            s["monthly_refresh"]["wall_s"] / s["first_refresh"]["wall_s"], 3)
    if "monthly_refresh" in s and "base_first_refresh" in s["monthly_refresh"]:
        ratios["monthly / first refresh as of the month before (same run)"] = round(
            s["monthly_refresh"]["wall_s"]
            / s["monthly_refresh"]["base_first_refresh"]["wall_s"], 3)
    if "first_refresh" in s and "lower_bound" in s:
        ratios["first refresh / lower bound"] = round(
            s["first_refresh"]["wall_s"] / s["lower_bound"]["wall_s"], 1)
    results["ratios"] = ratios
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
