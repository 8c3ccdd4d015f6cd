"""Tiering and risk model against the simulator's truth.

    .venv/bin/python benchmarks/bench_tiering.py --clients 2000 --months 24 --seed 20261128

Simulates into --home (default /tmp/bench_tiering), ingests, runs dbt (upstream of the risk model),
train_and_score, dbt (after_risk_model), then reports:
- out-of-time AUC / Gini / KS of the model's PD, of the credit score, of the internal rating and of
  the bureau score alone, beside the oracle AUC (truth pd_12m at the same periods on the same
  realised defaults) and the model's share of it (goal ≥ 95 %);
- realised 12-month default rate by tier (default profile, periods with a closed window): must fall
  monotonically from D to S;
- share of the truly highest-potential tail clients (top decile of the latent potential among
  tail clients) flagged as rising stars.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiering.config import PROJECT_DIR, Paths  # noqa: E402
from tiering.risk_model import ModelSettings, auc, metric_summary, train_and_score  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")


def dbt(home: Path, as_of: date, *args: str) -> None:
    env = {**os.environ, "TIERING_HOME": str(home), "DBT_TARGET_PATH": str(home / "target"),
           "DBT_LOG_PATH": str(home / "logs")}
    result = subprocess.run([DBT, *args, "--profiles-dir", str(PROJECT_DIR), "--vars",
                             f"{{as_of_date: '{as_of}'}}"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")


def client_companies(con: duckdb.DuckDBPyConnection, truth: Path) -> pd.DataFrame:
    """client_key → the true company most of its records belong to."""
    records = pd.read_parquet(truth / "source_records.parquet")
    con.register("truth_records", records)
    return con.execute("""
        select client_key, company_id from (
            select xref.client_key, truth_records.company_id,
                row_number() over (partition by xref.client_key order by count(*) desc,
                    truth_records.company_id) as r
            from marts.client_source_xref as xref
            inner join truth_records using (department, entity, record_id)
            group by xref.client_key, truth_records.company_id
        ) where r = 1""").df()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2024-11")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench_tiering"))
    parser.add_argument("--reuse", action="store_true", help="reuse an existing --home build")
    args = parser.parse_args()
    home = args.home.resolve()
    as_of = (pd.Timestamp(args.start + "-01") + pd.offsets.MonthEnd(args.months)).date()
    timings = {}
    if not args.reuse:
        from tiering.ingest import ingest
        from tiering.simulate import simulate

        shutil.rmtree(home, ignore_errors=True)
        started = time.perf_counter()
        simulate(home / "landing", home / "truth", args.clients, args.months, args.start,
                 args.seed)
        ingest(Paths(home=home))
        timings["simulate+ingest_s"] = time.perf_counter() - started
        started = time.perf_counter()
        dbt(home, as_of, "build", "--exclude", "tag:after_risk_model")
        timings["dbt_upstream_s"] = time.perf_counter() - started
        started = time.perf_counter()
        run = train_and_score(home / "warehouse.duckdb", as_of, home / "models", ModelSettings())
        timings["risk_model_s"] = time.perf_counter() - started
        started = time.perf_counter()
        dbt(home, as_of, "build", "--select", "tag:after_risk_model")
        timings["dbt_after_model_s"] = time.perf_counter() - started
    else:
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            run = con.execute("select * from ml.risk_model_runs order by trained_at desc "
                              "limit 1").df().iloc[0].to_dict()
    truth = home / "truth"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        mapping = client_companies(con, truth)
        tiers = con.execute("select client_key, period_date, tier_code, credit_score, "
                            "composite_score from marts.client_tiers "
                            "where profile_code = 'default'").df()
        long_tail = con.execute("select client_key, pareto_segment, is_rising_star "
                                "from marts.long_tail_clients").df()
    tiers["period_date"] = pd.to_datetime(tiers["period_date"])
    latent = pd.read_parquet(truth / "latent_monthly.parquet")
    latent["period_date"] = pd.to_datetime(latent["period_date"])
    defaults = pd.read_parquet(truth / "defaults.parquet")
    defaults["period_date"] = pd.to_datetime(defaults["period_date"])

    # 1. out-of-time discrimination, same rows, beside the oracle
    oot = pd.read_parquet(home / "models" / run["model_version"] / "oot_predictions.parquet")
    oot["period_date"] = pd.to_datetime(oot["period_date"])
    oot = oot.merge(mapping, on="client_key", how="left").merge(
        latent, on=["company_id", "period_date"], how="left").merge(
        tiers[["client_key", "period_date", "credit_score"]], on=["client_key", "period_date"],
        how="left")
    y = oot["default_next_12m"].to_numpy()
    report = {
        "as_of": str(as_of), "model_version": run["model_version"],
        "n_test": int(len(oot)), "n_test_defaults": int(y.sum()),
        "pd_model": metric_summary(y, oot["pd_oot"].to_numpy()),
        "credit_score": metric_summary(y, -oot["credit_score"].fillna(50).to_numpy()),
        "internal_rating_alone_auc": auc(y, oot["internal_rating_risk"].to_numpy()),
        "bureau_score_alone_auc": auc(y, oot["bureau_score_risk"].to_numpy()),
        "oracle_auc": auc(y, oot["pd_12m"].fillna(oot["pd_12m"].median()).to_numpy()),
    }
    report["model_share_of_oracle"] = report["pd_model"]["auc"] / report["oracle_auc"]

    # 2. realised 12-month default rate by tier (true defaults, closed windows)
    closed = tiers[tiers.period_date + pd.offsets.MonthEnd(12) <= pd.Timestamp(as_of)]
    closed = closed.merge(mapping, on="client_key", how="left")
    windows = closed[["client_key", "period_date", "company_id"]].merge(
        defaults.rename(columns={"period_date": "default_date"}), on="company_id", how="inner")
    hit = windows[(windows.default_date > windows.period_date)
                  & (windows.default_date <= windows.period_date + pd.offsets.MonthEnd(12))]
    closed["defaulted"] = closed.set_index(["client_key", "period_date"]).index.isin(
        hit.set_index(["client_key", "period_date"]).index)
    by_tier = closed.groupby("tier_code")["defaulted"].agg(["mean", "size"]).reindex(
        list("DCBAS"))
    rates = by_tier["mean"].to_numpy()
    report["default_rate_by_tier"] = {t: {"rate": float(r), "n": int(n)} for t, r, n in zip(
        by_tier.index, by_tier["mean"].fillna(np.nan), by_tier["size"].fillna(0))}
    known = rates[~np.isnan(rates)]
    report["default_rate_monotone_D_to_S"] = bool(np.all(np.diff(known) <= 0))

    # 3. rising stars vs the truly highest-potential tail clients
    companies = pd.read_parquet(truth / "companies.parquet")
    potential_column = next((c for c in companies.columns if "potential" in c),
                            next((c for c in companies.columns if "growth" in c), None))
    tail = long_tail[long_tail.pareto_segment == "tail"].merge(mapping, on="client_key")
    if potential_column:
        tail = tail.merge(companies[["company_id", potential_column]], on="company_id")
        top = tail[tail[potential_column] >= tail[potential_column].quantile(0.9)]
        report["rising_star_recall_top_decile"] = float(top["is_rising_star"].mean())
        report["rising_star_precision"] = float(
            (tail.loc[tail.is_rising_star, potential_column]
             >= tail[potential_column].quantile(0.9)).mean())
        report["potential_truth_column"] = potential_column
    report["timings"] = timings
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
