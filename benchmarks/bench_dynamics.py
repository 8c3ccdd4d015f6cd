"""Tier dynamics on simulator history (docs/dynamics.md, docs/benchmarks.md "Dynamics").

    # reuse the demo landing zone (make demo-data), scratch home
    .venv/bin/python benchmarks/bench_dynamics.py --home /tmp/bench_dyn --landing data/landing

1. `tiering backfill` of every month but the last (the real Dagster jobs, month by month), then
   `tiering refresh` of the last month (a genuinely new month), then that month rebuilt twice
   more: time of one new month (median of 3) as a fraction of the whole backfill (sum of the
   months, the new one included), measured in the same run.
2. Flip-back rate: of the tier changes between consecutive months (default profile, not
   overridden) with three months to follow, the share that returns to the tier it left within
   three months; for the published tier (stability rule on) and for the tier without it
   (`unstabilised_tier_code`), beside the change rate and the share of months the rule holds
   the tier. Then a grid of (margin, persistence) by full refreshes of client_tiers with the
   parameters as vars; the last full refresh, with the seed's values, must equal the month-by-
   month history exactly (checked).
3. Per period (default profile): PSI of the composite and its band, realised 12-month default
   rate by tier and whether monotone, AUC of composite and credit score (tier_performance).
Results: <home>/bench_dynamics.json and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiering.config import PROJECT_DIR  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")
GRID = [(0, 1), (2, 1), (3, 1), (5, 1), (0, 2), (0, 3), (2, 2), (3, 3), (5, 3)]

FLIP_BACK_SQL = """
with tiers as (
    select
        client_key,
        period_date,
        {column} as tier,
        is_override,
        dense_rank() over (order by period_date) as period_index
    from marts.client_tiers
    where profile_code = 'default'
),
sequenced as (
    select
        *,
        lag(tier) over (partition by client_key order by period_index) as previous_tier,
        lag(period_index) over (partition by client_key order by period_index) as previous_index
    from tiers
),
changes as (
    select * from sequenced
    where previous_index = period_index - 1 and tier <> previous_tier and not is_override
        and period_index + 3 <= (select max(period_index) from tiers)
),
flipped as (
    select distinct changes.client_key, changes.period_index
    from changes
    inner join tiers as later
        on later.client_key = changes.client_key
        and later.period_index between changes.period_index + 1 and changes.period_index + 3
        and later.tier = changes.previous_tier
)
select
    (select count(*) from changes) as changes,
    (select count(*) from flipped) as flip_backs,
    (select count(*) from sequenced where previous_index = period_index - 1
        and period_index + 3 <= (select max(period_index) from tiers)) as transitions,
    (select avg(case when tier_code <> unstabilised_tier_code then 1.0 else 0.0 end)
        from marts.client_tiers where profile_code = 'default' and not is_override) as held_share
"""


def say(text: str) -> None:
    print(text, flush=True)


def quietly(fn, *args, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = fn(*args, **kwargs)
    return code, out.getvalue()


def dbt(home: Path, as_of: date, *args: str, extra_vars: str = "") -> None:
    env = {**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target-bench"),
           "DBT_LOG_PATH": str(home / "logs")}
    result = subprocess.run(
        [DBT, *args, "--profiles-dir", str(PROJECT_DIR), "--vars",
         f"{{as_of_date: '{as_of}'{extra_vars}}}"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")


def flip_back(con: duckdb.DuckDBPyConnection, column: str) -> dict:
    changes, flips, transitions, held = con.execute(
        FLIP_BACK_SQL.format(column=column)).fetchone()
    return {"changes": changes, "flip_backs": flips, "transitions": transitions,
            "flip_back_rate": flips / changes if changes else None,
            "change_rate": changes / transitions if transitions else None,
            "held_share": float(held)}


def timed_backfill(first: str, last_but_one: str, last: date, repeats: int) -> dict:
    from tiering.pipeline import backfill, refresh

    started = time.monotonic()
    code, output = quietly(backfill, first, last_but_one, publish=True)
    months_seconds = time.monotonic() - started
    if code != 0:
        sys.exit(f"backfill failed:\n{output[-4000:]}")
    per_month = [float(line.split(" built in ")[1].split(" s")[0])
                 for line in output.splitlines() if " built in " in line]
    new_month = []
    for repeat in range(repeats):
        started = time.monotonic()
        code, output = quietly(refresh, last, force=repeat > 0)
        new_month.append(time.monotonic() - started)
        if code != 0:
            sys.exit(f"refresh {last} failed:\n{output[-4000:]}")
    total = months_seconds + new_month[0]
    return {"backfill_months": len(per_month) + 1, "backfill_seconds": total,
            "backfill_month_median_seconds": statistics.median(per_month + new_month[:1]),
            "new_month_seconds": new_month,
            "new_month_median_seconds": statistics.median(new_month),
            "ratio_new_month_to_backfill": statistics.median(new_month) / total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench_dyn"))
    parser.add_argument("--landing", type=Path, help="existing landing zone (else simulate)")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2024-11")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-backfill", action="store_true",
                        help="analyse an existing backfilled home only")
    args = parser.parse_args()

    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["TIERING_HOME"] = str(home)
    os.environ["TIERING_GX_UNCOMMITTED"] = str(home / "gx")
    os.environ["DBT_TARGET_PATH"] = str(home / "target")
    if args.landing:
        os.environ["TIERING_LANDING_DIR"] = str(args.landing.resolve())
        landing = args.landing.resolve()
    else:
        landing = home / "landing"
        if not landing.exists():
            from tiering.simulate import simulate

            simulate(landing, home / "truth", args.clients, args.months, args.start, args.seed)
    from orchestration.deliveries import complete_periods

    periods = complete_periods(landing)
    first, last = periods[0], periods[-1]
    results: dict = {"periods": len(periods), "first": str(first), "last": str(last),
                     "measured_at": time.strftime("%Y-%m-%d %H:%M"), "machine": "2 shared cores"}

    if not args.skip_backfill:
        say(f"backfill {first:%Y-%m} .. {periods[-2]:%Y-%m}, then {last:%Y-%m} as the new month "
            f"x{args.repeats} ...")
        results["timing"] = timed_backfill(f"{first:%Y-%m}", f"{periods[-2]:%Y-%m}", last,
                                           args.repeats)
        say(json.dumps(results["timing"], indent=2))

    warehouse = home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create or replace table main.bench_month_by_month as "
                    "select * from marts.client_tiers")
        results["stability_rule"] = {
            "with_rule": flip_back(con, "tier_code"),
            "without_rule": flip_back(con, "unstabilised_tier_code"),
        }
        parameters = dict(con.execute("select parameter_name, parameter_value from "
                                      "seeds.tiering_dynamics_parameters").fetchall())
        performance = con.execute("""
            select period_date, client_count, cohort_client_count, default_count,
                outcome_months_observed, is_outcome_window_complete, default_rate,
                is_default_rate_monotone, auc_composite, auc_credit, ks_composite,
                psi_composite, psi_band, override_rate, tier_change_rate,
                unstabilised_tier_change_rate
            from marts.tier_performance where profile_code = 'default'
            order by period_date""").df()
        by_tier = con.execute("""
            select period_date, tier_code, client_count, default_rate
            from marts.tier_performance_by_tier where profile_code = 'default'""").df()
    results["parameters"] = parameters
    say(json.dumps(results["stability_rule"], indent=2))

    grid = []
    for margin, persistence in GRID:
        dbt(home, last, "run", "--full-refresh", "--select", "client_tiers", extra_vars=(
            f", tiering_dynamics_parameters: {{stability_margin_points: {margin}, "
            f"stability_persistence_periods: {persistence}}}"))
        with duckdb.connect(str(warehouse), read_only=True) as con:
            grid.append({"margin": margin, "persistence": persistence,
                         **flip_back(con, "tier_code")})
        say(f"grid margin {margin} persistence {persistence}: {grid[-1]}")
    results["grid"] = grid
    dbt(home, last, "run", "--full-refresh", "--select", "client_tiers")
    with duckdb.connect(str(warehouse)) as con:
        differences = con.execute("""
            select (select count(*) from (select * from marts.client_tiers except all
                    select * from main.bench_month_by_month))
                + (select count(*) from (select * from main.bench_month_by_month except all
                    select * from marts.client_tiers))""").fetchone()[0]
        rows = con.execute("select count(*) from marts.client_tiers").fetchone()[0]
    results["full_refresh_equals_month_by_month"] = {"rows": rows, "differing_rows": differences}
    say(f"full refresh vs month by month: {rows} rows, {differences} differ")

    pivot = by_tier.pivot(index="period_date", columns="tier_code", values="default_rate")
    performance = performance.set_index("period_date").join(pivot)
    results["performance"] = json.loads(performance.reset_index().to_json(
        orient="records", date_format="iso"))
    (home / "bench_dynamics.json").write_text(json.dumps(results, indent=2, default=str),
                                               encoding="utf-8")
    say(performance.round(4).to_markdown() if hasattr(performance, "to_markdown")
        else performance.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
