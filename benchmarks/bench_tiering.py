"""Tiering and risk model against the simulator's truth (docs/benchmarks.md, "Tiering and risk
model").

    # simulate 24 months of history + 12 months of outcome, build as of month 24, measure
    .venv/bin/python benchmarks/bench_tiering.py --clients 2000 --months 24 --seed 20261128
    # measure an existing build (e.g. the demo after `make run`): history metrics only
    .venv/bin/python benchmarks/bench_tiering.py --home data --reuse
    # the risk model alone on a synthetic features table of N clients x 24 months (timing)
    .venv/bin/python benchmarks/bench_tiering.py --risk-model-scale 100000
    # the same measurements on deliveries tiering simulate did not write: the variant
    # generator's credit world (tiering/testing/variant_credit.py, docs/robustness.md)
    .venv/bin/python benchmarks/bench_tiering.py --generator variants --clients 2000 --months 18

A fresh run simulates `--months` of history plus `--outcome-months` more into --home, ingests
everything, and builds as of the end of the history (staging only reads deliveries up to the
as-of date, so the later months are never seen): dbt upstream of the risk model,
train_and_score, dbt after it. The months after the as-of date are the outcome the tiers and
PDs of the as-of date are judged on. Reported:

1. the risk model's own out-of-time validation (ml.risk_model_runs: latest trainable periods,
   clients held out by fold): AUC / Gini / KS of the PD, of the internal rating alone and of the
   bureau score alone, beside the oracle (the truth's pd_12m at the same rows' periods on the
   same realised defaults) and the model's share of it (goal >= 95 %);
2. forward (fresh runs): the PD of the as-of date against defaults in the next 12 months
   (truth), on the obligors (a credit profile at the as-of date), same comparisons, plus the
   credit dimension score;
3. realised 12-month default rate by tier (default profile) of performing clients (not in
   default at the period): forward at the as-of date, and pooled over the build's periods whose
   12-month window closed inside the history; must fall monotonically from D to S; and the
   same for the obligors alone (a credit profile at the period);
4. rising stars: share of the truly highest-potential tail clients (top decile of the latent
   growth among tail clients) flagged as rising stars (recall), and the share of rising stars
   that are in that decile (precision; 0.10 = chance);
5. big but risky: the tiers of performing obligors with a value score of 70 or more whose true
   PD is 20 % or more (the guardrails' case), every period, and the model's mean PD for them.
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
TIERS = list("DCBAS")
BIG_VALUE_SCORE, RISKY_TRUE_PD = 70, 0.20  # "a big but risky client is never over-tiered"


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


def _window_end(periods: pd.Series) -> pd.Series:
    return periods + pd.offsets.MonthEnd(12)


def realised_defaults(rows: pd.DataFrame, defaults: pd.DataFrame) -> pd.DataFrame:
    """rows (client_key, period_date, company_id) + `defaulted` (true default of the company in
    the 12 months after the period) and `performing` (not defaulted on or before the period)."""
    rows = rows.merge(defaults.rename(columns={"period_date": "default_date"}),
                      on="company_id", how="left")
    rows["defaulted"] = (rows.default_date > rows.period_date) & (
        rows.default_date <= _window_end(rows.period_date))
    rows["performing"] = ~(rows.default_date <= rows.period_date)
    return rows.drop(columns="default_date")


def rates_by_tier(rows: pd.DataFrame) -> dict:
    """Realised 12-month default rate per tier of the performing rows, and (when the rows carry
    the truth's `oracle` pd_12m) the expected rate, the mean true PD: the ordering a tiering
    would show without the luck of which clients happened to default."""
    performing = rows[rows.performing]
    by_tier = performing.groupby("tier_code")["defaulted"].agg(["mean", "size", "sum"]).reindex(
        TIERS)
    rates = by_tier["mean"].to_numpy(dtype=float)
    known = rates[~np.isnan(rates)]
    out = {
        "by_tier": {t: {"rate": None if np.isnan(r) else round(float(r), 5), "n": int(n or 0),
                        "defaults": int(d or 0)}
                    for t, r, n, d in zip(TIERS, rates, by_tier["size"].fillna(0),
                                          by_tier["sum"].fillna(0))},
        "monotone_D_to_S": bool(np.all(np.diff(known) <= 0)),
    }
    if "oracle" in performing.columns:
        expected = performing.groupby("tier_code")["oracle"].mean().reindex(TIERS)
        for tier, value in expected.items():
            out["by_tier"][tier]["expected_rate"] = None if np.isnan(value) else round(
                float(value), 5)
        values = expected.to_numpy(dtype=float)
        out["expected_monotone_D_to_S"] = bool(np.all(np.diff(values[~np.isnan(values)]) <= 0))
    return out


def discrimination(y: np.ndarray, scores: dict[str, np.ndarray],
                   weights: np.ndarray | None = None) -> dict:
    out = {name: metric_summary(y, values, weights) for name, values in scores.items()}
    out = {name: {k: round(v, 4) for k, v in m.items()} for name, m in out.items()}
    if "oracle" in out and "pd_model" in out:
        out["model_share_of_oracle"] = round(out["pd_model"]["auc"] / out["oracle"]["auc"], 4)
    out["n"] = int(len(y))
    out["n_defaults"] = int(np.asarray(y).sum())
    return out


def risk_model_scale(clients: int, months: int, home: Path) -> dict:
    """Time train_and_score on a synthetic warehouse (the test suite's generator, vectorised):
    a first run (every period scored point in time) and a monthly run (one new period)."""
    sys.path.insert(0, str(PROJECT_DIR / "tests"))
    from test_risk_model import make_warehouse

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    warehouse = home / "warehouse.duckdb"
    started = time.perf_counter()
    make_warehouse(warehouse, clients=clients, months=months + 1, seed=5)
    last = (pd.Timestamp("2024-01-31") + pd.offsets.MonthEnd(months)).date()
    previous = (pd.Timestamp(last) - pd.offsets.MonthEnd(1)).date()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table late_month as select * from "
                    "intermediate.int_tiering_client_features_built where period_date = ?",
                    [last])
        con.execute("delete from intermediate.int_tiering_client_features_built "
                    "where period_date = ?", [last])
    out = {"clients": clients, "months": months, "generate_s": time.perf_counter() - started}
    started = time.perf_counter()
    first = train_and_score(warehouse, previous, home / "models")
    out["first_run_s"] = time.perf_counter() - started
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into intermediate.int_tiering_client_features_built "
                    "select * from late_month")
    started = time.perf_counter()
    monthly = train_and_score(warehouse, last, home / "models")
    out["monthly_run_s"] = time.perf_counter() - started
    out.update({"train_sample_rate": monthly["train_sample_rate"],
                "n_train": monthly["n_train"], "auc_oot": monthly["auc_oot"],
                "periods_scored_first": len(first["periods_scored"]),
                "periods_scored_monthly": len(monthly["periods_scored"])})
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24, help="months of history")
    parser.add_argument("--outcome-months", type=int, default=12,
                        help="months simulated after the as-of date (the outcome)")
    parser.add_argument("--start", default="2024-11")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench_tiering"))
    parser.add_argument("--reuse", action="store_true", help="measure an existing --home build")
    parser.add_argument("--generator", choices=("simulate", "variants"), default="simulate",
                        help="who writes the deliveries: tiering simulate, or the independent "
                        "variant generator with its credit world")
    parser.add_argument("--mess-scale", type=float, default=1.0,
                        help="with --generator variants: multiply its name and identifier mess "
                        "(identity errors reach the tiers)")
    parser.add_argument("--risk-model-scale", type=int, metavar="CLIENTS",
                        help="only time the risk model on a synthetic warehouse of CLIENTS")
    args = parser.parse_args()
    home = args.home.resolve()
    if args.risk_model_scale:
        print(json.dumps(risk_model_scale(args.risk_model_scale, args.months, home), indent=2))
        return 0
    timings = {}
    if not args.reuse:
        from tiering.ingest import ingest
        from tiering.simulate import simulate

        as_of = (pd.Timestamp(args.start + "-01") + pd.offsets.MonthEnd(args.months)).date()
        shutil.rmtree(home, ignore_errors=True)
        started = time.perf_counter()
        if args.generator == "variants":
            from tiering.testing.variants import generate

            generate(home / "landing", home / "truth", args.clients,
                     args.months + args.outcome_months, args.start, args.seed,
                     bad_deliveries=False, credit_world=True, mess_scale=args.mess_scale)
        else:
            simulate(home / "landing", home / "truth", args.clients,
                     args.months + args.outcome_months, args.start, args.seed)
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
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        if args.reuse:
            run = con.execute("select * from ml.risk_model_runs order by as_of_date desc, "
                              "trained_at desc limit 1").df().iloc[0].to_dict()
            as_of = pd.Timestamp(run["as_of_date"]).date()
        mapping = client_companies(con, home / "truth")
        tiers = con.execute("""
            select tiers.client_key, tiers.period_date, tiers.tier_code, tiers.credit_score,
                tiers.value_score, tiers.pd_12m, features.has_credit_profile,
                features.live_default_count,
                features.rating_pd_prior, features.bureau_score
            from marts.client_tiers as tiers
            inner join intermediate.int_tiering_client_features_built as features
                using (client_key, period_date)
            where tiers.profile_code = 'default'""").df()
        long_tail = con.execute("select client_key, pareto_segment, is_rising_star "
                                "from marts.long_tail_clients").df()
        n_models = con.execute("select count(*) from ml.risk_model_runs").fetchone()[0]
    truth = home / "truth"
    tiers["period_date"] = pd.to_datetime(tiers["period_date"])
    tiers = tiers.merge(mapping, on="client_key", how="left")
    latent = pd.read_parquet(truth / "latent_monthly.parquet")
    latent["period_date"] = pd.to_datetime(latent["period_date"])
    latent = latent[["company_id", "period_date", "pd_12m"]].rename(columns={"pd_12m": "oracle"})
    defaults = pd.read_parquet(truth / "defaults.parquet")
    defaults["period_date"] = pd.to_datetime(defaults["period_date"])
    truth_end = latent["period_date"].max()
    report = {"generator": args.generator, "mess_scale": args.mess_scale, "as_of": str(as_of),
              "model_version": run["model_version"],
              "method": run["method"], "models_trained": int(n_models)}

    # 1. the model's own out-of-time validation, beside the oracle on the same rows
    oot_file = home / "models" / run["model_version"] / "oot_predictions.parquet"
    if oot_file.exists():
        oot = pd.read_parquet(oot_file)
        oot["period_date"] = pd.to_datetime(oot["period_date"])
        oot = oot.merge(mapping, on="client_key", how="left").merge(
            latent, on=["company_id", "period_date"], how="left")
        # no latent row: the company had already defaulted (the truth stops there)
        oot["oracle"] = oot["oracle"].fillna(1.0)
        report["validation_oot"] = discrimination(
            oot["default_next_12m"].to_numpy(), {
                "pd_model": oot["pd_oot"].to_numpy(), "oracle": oot["oracle"].to_numpy(),
                "internal_rating": oot["internal_rating_risk"].to_numpy(),
                "bureau_score": oot["bureau_score_risk"].to_numpy()},
            oot["sample_weight"].to_numpy())

    # 2. forward: the as-of date's PD against the next 12 months (needs truth after as-of)
    at = tiers[tiers.period_date == pd.Timestamp(as_of)]
    if truth_end >= _window_end(pd.Series([pd.Timestamp(as_of)])).iloc[0]:
        obligors = realised_defaults(
            at[at.has_credit_profile & (at.live_default_count == 0)], defaults)
        obligors = obligors[obligors.performing].merge(
            latent, on=["company_id", "period_date"], how="left")
        bureau = -obligors["bureau_score"].astype(float)
        report["forward_obligors"] = discrimination(
            obligors["defaulted"].to_numpy().astype(int), {
                "pd_model": obligors["pd_12m"].to_numpy(),
                "oracle": obligors["oracle"].fillna(1.0).to_numpy(),
                "internal_rating": obligors["rating_pd_prior"].fillna(0.02).to_numpy(),
                "bureau_score": bureau.fillna(bureau.median()).to_numpy(),
                "credit_score": -obligors["credit_score"].to_numpy()})
        forward = realised_defaults(at, defaults).merge(latent, how="left")
        report["default_rate_by_tier_forward"] = rates_by_tier(forward)
        report["default_rate_by_tier_forward_obligors"] = rates_by_tier(
            forward[forward.has_credit_profile])

    # 3. default rate by tier in the build's history (windows closed inside the history)
    closed = tiers[_window_end(tiers.period_date) <= min(pd.Timestamp(as_of), truth_end)]
    if len(closed):
        history = realised_defaults(closed, defaults).merge(latent, how="left")
        report["default_rate_by_tier_history"] = rates_by_tier(history)
        per_period = [rates_by_tier(g)["monotone_D_to_S"]
                      for _, g in history.groupby("period_date")]
        report["default_rate_by_tier_history"]["periods_monotone"] = \
            f"{sum(per_period)}/{len(per_period)}"
        # the clients with a credit profile at the period: the ones a default can reach where
        # only borrowers default (the variant's credit world)
        report["default_rate_by_tier_history_obligors"] = rates_by_tier(
            history[history.has_credit_profile])

    # 5. big but truly risky performing obligors: the tiers the guardrails leave them (every
    # period; a live default is D by its own guardrail)
    risky = tiers[tiers.has_credit_profile & (tiers.live_default_count == 0)
                  & (tiers.value_score >= BIG_VALUE_SCORE)].merge(
        latent, on=["company_id", "period_date"], how="inner")
    risky = risky[risky.oracle >= RISKY_TRUE_PD]
    report["big_risky_obligors"] = {
        "definition": f"performing obligor rows with value_score >= {BIG_VALUE_SCORE} and the "
                      f"truth's pd_12m >= {RISKY_TRUE_PD}, every period",
        "rows": int(len(risky)),
        "by_tier": {t: int((risky.tier_code == t).sum()) for t in TIERS},
        "above_C": round(float(risky.tier_code.isin(["B", "A", "S"]).mean()), 4)
        if len(risky) else None,
        "mean_pd_model": round(float(risky.pd_12m.mean()), 4) if len(risky) else None,
        "mean_pd_true": round(float(risky.oracle.mean()), 4) if len(risky) else None,
    }

    # 4. rising stars vs the truly highest-potential tail clients
    companies = pd.read_parquet(truth / "companies.parquet")
    tail = long_tail[long_tail.pareto_segment == "tail"].merge(mapping, on="client_key")
    tail = tail.merge(companies[["company_id", "growth"]], on="company_id")
    top = tail["growth"] >= tail["growth"].quantile(0.9)
    report["rising_stars"] = {
        "tail_clients": int(len(tail)), "rising_stars": int(tail.is_rising_star.sum()),
        "recall_top_decile": round(float(tail.loc[top, "is_rising_star"].mean()), 4),
        "precision_top_decile": round(float(top[tail.is_rising_star].mean()), 4)
        if tail.is_rising_star.any() else None,
        "truth_column": "companies.growth",
    }
    report["timings"] = {k: round(v, 1) for k, v in timings.items()}
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
