"""The 12-month probability-of-default model (docs/risk_model.md).

`train_and_score` is one pipeline step between the two dbt steps: it reads the features model
(`intermediate.int_tiering_client_features_built`) and the default events
(`intermediate.int_tiering_default_events_listed`) from the warehouse, trains a monotone
gradient-boosted model on the periods whose 12-month outcome window has closed by the as-of date,
validates it out of time, versions it under `models_dir`, and writes back
`ml.client_pd_scores` (every period) and a row of `ml.risk_model_runs`.

Nothing looks ahead: features are as of their period, labels only use defaults dated on or before
the as-of date, and only periods with a closed outcome window are used to train or test.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

FEATURES_TABLE = "intermediate.int_tiering_client_features_built"
DEFAULTS_TABLE = "intermediate.int_tiering_default_events_listed"
PARAMETERS_TABLE = "seeds.tiering_parameters"
SCORES_TABLE = "ml.client_pd_scores"
RUNS_TABLE = "ml.risk_model_runs"

# Model inputs and the direction PD must move in when the input grows (+1 up, -1 down, 0 free).
# Monotone constraints keep the model explainable: a worse rating never lowers the PD.
FEATURE_DIRECTIONS: dict[str, int] = {
    "internal_rating_rank": 1,
    "rating_pd_prior": 1,
    "max_overdue_days": 1,
    "watchlist_flag": 1,
    "bureau_score": -1,
    "risk_event_count_12m": 1,
    "distress_event_count_12m": 1,
    "legal_event_count_12m": 1,
    "default_count_ever": 1,
    "litigation_count_12m": 1,
    "penalty_count_12m": 1,
    "registry_revoked_flag": 1,
    "leverage_ratio": 1,
    "current_ratio": -1,
    "interest_coverage_ratio": -1,
    "cash_flow_to_debt_ratio": -1,
    "net_margin_ratio": -1,
    "revenue_growth_ratio": 0,
    "utilisation_ratio": 1,
    "collateral_coverage_ratio": -1,
    "income_growth_ratio": 0,
    "log_income_12m": 0,
    "active_months_12m": 0,
    "months_since_last_receipt": 0,
    "log_total_assets": 0,
    "log_registered_capital": 0,
    "tenure_months": 0,
    "department_count": 0,
    "complaint_count_12m": 0,
    "satisfaction_avg_12m": 0,
}


@dataclass(frozen=True)
class ModelSettings:
    """Tuning of the training run; the defaults are the production settings."""

    label_horizon_months: int = 12
    min_train_periods: int = 3  # fewer trainable periods than this: cold start
    min_train_defaults: int = 20  # fewer defaults in the training periods: cold start
    test_periods: int = 3  # the latest trainable periods form the out-of-time test set
    max_iter: int = 250
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    random_state: int = 20261128


# ---------------------------------------------------------------------------------------------
# metrics (pure helpers)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present."""
    labels = np.asarray(labels)
    if labels.min(initial=0) == labels.max(initial=0) or len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def ks_statistic(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of defaults and others."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    if labels.all() or (~labels).all():
        return float("nan")
    grid = np.unique(scores)
    bad = np.searchsorted(np.sort(scores[labels]), grid, side="right") / labels.sum()
    good = np.searchsorted(np.sort(scores[~labels]), grid, side="right") / (~labels).sum()
    return float(np.max(np.abs(bad - good)))


def metric_summary(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    value = auc(labels, scores)
    return {"auc": value, "gini": 2 * value - 1, "ks": ks_statistic(labels, scores)}


# ---------------------------------------------------------------------------------------------
# data


def _month_end_after(periods: pd.Series, months: int) -> pd.Series:
    return (pd.to_datetime(periods) + pd.offsets.MonthEnd(months)).dt.normalize()


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    denominator = denominator.astype(float)
    return numerator.astype(float) / denominator.where(denominator != 0)


def model_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Model inputs (FEATURE_DIRECTIONS order) derived, vectorised, from the features model."""
    f = features
    x = pd.DataFrame(index=f.index)
    for column in ("internal_rating_rank", "rating_pd_prior", "max_overdue_days",
                   "watchlist_flag", "bureau_score", "risk_event_count_12m",
                   "distress_event_count_12m", "legal_event_count_12m", "default_count_ever",
                   "litigation_count_12m", "penalty_count_12m", "registry_revoked_flag",
                   "active_months_12m", "months_since_last_receipt", "tenure_months",
                   "department_count", "complaint_count_12m", "satisfaction_avg_12m"):
        x[column] = pd.to_numeric(f[column], errors="coerce").astype(float)
    x["leverage_ratio"] = _ratio(f["total_liabilities_amount"], f["total_assets_amount"])
    x["current_ratio"] = _ratio(f["current_assets_amount"], f["current_liabilities_amount"])
    x["interest_coverage_ratio"] = _ratio(
        f["net_profit_amount"].astype(float) + f["interest_expense_amount"].astype(float),
        f["interest_expense_amount"])
    x["cash_flow_to_debt_ratio"] = _ratio(f["operating_cash_flow_amount"],
                                          f["total_liabilities_amount"])
    x["net_margin_ratio"] = _ratio(f["net_profit_amount"], f["revenue_amount"])
    x["revenue_growth_ratio"] = _ratio(
        f["revenue_amount"].astype(float) - f["revenue_prior_year_amount"].astype(float),
        f["revenue_amount"].astype(float).abs() + f["revenue_prior_year_amount"].astype(float).abs())
    x["utilisation_ratio"] = _ratio(f["outstanding_balance_amount"], f["credit_limit_amount"])
    x["collateral_coverage_ratio"] = _ratio(f["collateral_value_amount"],
                                            f["outstanding_balance_amount"])
    income = f["income_12m_amount"].astype(float)
    prior = f["income_prior_12m_amount"].astype(float)
    x["income_growth_ratio"] = _ratio(income - prior, income.abs() + prior.abs())
    x["log_income_12m"] = np.log1p(income.clip(lower=0))
    x["log_total_assets"] = np.log1p(f["total_assets_amount"].astype(float).clip(lower=0))
    x["log_registered_capital"] = np.log1p(
        f["registered_capital_amount"].astype(float).clip(lower=0))
    x = x.replace([np.inf, -np.inf], np.nan)
    return x[list(FEATURE_DIRECTIONS)]


def load_frame(con: duckdb.DuckDBPyConnection, as_of: date, horizon: int) -> pd.DataFrame:
    """Features of every period up to as_of, with the label (a default in the `horizon` months
    after the period, dated on or before as_of) and whether the period is trainable."""
    frame = con.execute(
        f"""
        select features.*,
            coalesce(labels.has_default, 0) as default_next_12m
        from {FEATURES_TABLE} as features
        left join (
            select features.client_key, features.period_date, 1 as has_default
            from {FEATURES_TABLE} as features
            inner join {DEFAULTS_TABLE} as defaults
                on features.client_key = defaults.client_key
                and defaults.event_date > features.period_date
                and defaults.event_date <= last_day(features.period_date
                    + to_months({horizon}))
                and defaults.event_date <= ?
            group by features.client_key, features.period_date
        ) as labels
            on features.client_key = labels.client_key
            and features.period_date = labels.period_date
        where features.period_date <= ?
        order by features.period_date, features.client_key
        """,
        [as_of, as_of],
    ).df()
    frame["period_date"] = pd.to_datetime(frame["period_date"])
    window_end = _month_end_after(frame["period_date"], horizon)
    frame["is_trainable"] = (window_end <= pd.Timestamp(as_of)) & (
        frame["live_default_count"].fillna(0) == 0)
    return frame


def _parameter(con: duckdb.DuckDBPyConnection, name: str, default: float) -> float:
    try:
        row = con.execute(
            f"select parameter_value from {PARAMETERS_TABLE} where parameter_name = ?", [name]
        ).fetchone()
    except duckdb.Error:
        return default
    return float(row[0]) if row else default


# ---------------------------------------------------------------------------------------------
# training


def usable_features(x: pd.DataFrame) -> list[str]:
    """Inputs with at least two distinct known values (a feature nobody delivered is dropped)."""
    return [c for c in x.columns if x[c].nunique(dropna=True) >= 2]


def _new_model(settings: ModelSettings, features: list[str]) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        monotonic_cst=[FEATURE_DIRECTIONS[f] for f in features],
        early_stopping=False,
        random_state=settings.random_state,
    )


def _baseline_scores(test: pd.DataFrame, unrated_prior: float) -> dict[str, np.ndarray]:
    """Single inputs used alone, higher = riskier; a missing input gets the neutral middle."""
    rating = test["rating_pd_prior"].astype(float).fillna(unrated_prior).to_numpy()
    bureau = -test["bureau_score"].astype(float)
    bureau = bureau.fillna(bureau.median() if bureau.notna().any() else 0.0).to_numpy()
    return {"internal_rating": rating, "bureau_score": bureau}


def _version(as_of: date, method: str, frame: pd.DataFrame, settings: ModelSettings) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(settings.__dict__, sort_keys=True).encode())
    digest.update(pd.util.hash_pandas_object(
        frame[["client_key", "period_date", "default_next_12m"]], index=False).to_numpy()
        .tobytes())
    return f"pd-{as_of:%Y%m%d}-{method}-{digest.hexdigest()[:8]}"


def _write_tables(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, run: dict) -> None:
    con.execute("create schema if not exists ml")
    con.register("pd_scores_frame", scores)
    con.execute(
        f"""
        create or replace table {SCORES_TABLE} as
        select cast(client_key as varchar) as client_key, cast(period_date as date) as period_date,
            cast(pd_12m as double) as pd_12m, cast(model_version as varchar) as model_version
        from pd_scores_frame
        """
    )
    con.unregister("pd_scores_frame")
    con.execute(
        f"""
        create table if not exists {RUNS_TABLE} (
            model_version varchar, trained_at timestamp, as_of_date date, method varchar,
            n_train bigint, n_test bigint, n_train_defaults bigint, n_test_defaults bigint,
            auc_oot double, gini_oot double, ks_oot double,
            auc_internal_rating double, auc_bureau_score double
        )
        """
    )
    con.execute(f"delete from {RUNS_TABLE} where model_version = ?", [run["model_version"]])
    columns = ["model_version", "trained_at", "as_of_date", "method", "n_train", "n_test",
               "n_train_defaults", "n_test_defaults", "auc_oot", "gini_oot", "ks_oot",
               "auc_internal_rating", "auc_bureau_score"]
    values = [None if isinstance(run[c], float) and np.isnan(run[c]) else run[c]
              for c in columns]
    con.execute(
        f"insert into {RUNS_TABLE} ({', '.join(columns)}) values "
        f"({', '.join('?' for _ in columns)})",
        values,
    )


def train_and_score(
    warehouse: Path,
    as_of: date,
    models_dir: Path,
    settings: ModelSettings | None = None,
) -> dict:
    """Train, validate out of time, version, and write `ml.client_pd_scores` for every period and
    a row of `ml.risk_model_runs`. Returns the run record (also the model card's content)."""
    settings = settings or ModelSettings()
    with duckdb.connect(str(warehouse)) as con:
        frame = load_frame(con, as_of, settings.label_horizon_months)
        unrated_prior = _parameter(con, "unrated_pd_prior", 0.02)
        x_all = model_matrix(frame)
        trainable = frame["is_trainable"].to_numpy()
        periods = np.sort(frame.loc[trainable, "period_date"].unique())
        n_test = min(settings.test_periods, max(len(periods) - 1, 0) // 2 or 1)
        test_periods = periods[-n_test:] if len(periods) >= 2 else periods[:0]
        is_test = trainable & frame["period_date"].isin(test_periods).to_numpy()
        is_train = trainable & ~is_test
        y = frame["default_next_12m"].to_numpy().astype(int)
        n_train_defaults = int(y[is_train].sum())
        cold_start = (len(periods) < settings.min_train_periods
                      or n_train_defaults < settings.min_train_defaults
                      or int(y[is_test].sum()) == 0)

        trained_at = datetime.now(timezone.utc).replace(tzinfo=None)
        test = frame.loc[is_test]
        baselines = _baseline_scores(test, unrated_prior) if len(test) else {}
        if cold_start:
            method = "rating_prior"
            version = f"cold-start-rating-prior-{as_of:%Y%m%d}"
            pd_all = frame["rating_pd_prior"].astype(float).fillna(unrated_prior).to_numpy()
            oot = metric_summary(y[is_test], pd_all[is_test]) if is_test.any() else {
                "auc": float("nan"), "gini": float("nan"), "ks": float("nan")}
            model = None
            pd_oot = pd_all[is_test]
        else:
            method = "monotone_gbm"
            used = usable_features(x_all[trainable])
            x_all = x_all[used]
            validation_model = _new_model(settings, used).fit(x_all[is_train], y[is_train])
            pd_oot = validation_model.predict_proba(x_all[is_test])[:, 1]
            oot = metric_summary(y[is_test], pd_oot)
            # The production model learns from every trainable period (the test periods too).
            model = _new_model(settings, used).fit(x_all[trainable], y[trainable])
            pd_all = model.predict_proba(x_all)[:, 1]
            version = _version(as_of, method, frame.loc[trainable], settings)

        run = {
            "model_version": version,
            "trained_at": trained_at,
            "as_of_date": as_of,
            "method": method,
            "n_train": int(is_train.sum()),
            "n_test": int(is_test.sum()),
            "n_train_defaults": n_train_defaults,
            "n_test_defaults": int(y[is_test].sum()),
            "auc_oot": oot["auc"],
            "gini_oot": oot["gini"],
            "ks_oot": oot["ks"],
            "auc_internal_rating": auc(y[is_test], baselines["internal_rating"])
            if baselines else float("nan"),
            "auc_bureau_score": auc(y[is_test], baselines["bureau_score"])
            if baselines else float("nan"),
        }
        scores = pd.DataFrame({
            "client_key": frame["client_key"],
            "period_date": frame["period_date"].dt.date,
            "pd_12m": np.clip(pd_all, 0.0, 1.0),
            "model_version": version,
        })
        _write_tables(con, scores, run)

    card = {
        **{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in run.items()},
        "features": {c: FEATURE_DIRECTIONS[c] for c in x_all.columns},
        "settings": settings.__dict__,
        "train_periods": [str(pd.Timestamp(p).date()) for p in periods if p not in test_periods],
        "test_periods": [str(pd.Timestamp(p).date()) for p in test_periods],
        "label": f"违约 risk event within {settings.label_horizon_months} months after the period",
    }
    target = Path(models_dir) / version
    target.mkdir(parents=True, exist_ok=True)
    # Out-of-time predictions beside the single inputs, for benchmarks/bench_tiering.py.
    pd.DataFrame({
        "client_key": test["client_key"].to_numpy(),
        "period_date": test["period_date"].dt.date.to_numpy(),
        "default_next_12m": y[is_test],
        "pd_oot": pd_oot,
        **{f"{name}_risk": values for name, values in baselines.items()},
    }).to_parquet(target / "oot_predictions.parquet", index=False)
    if model is not None:
        with open(target / "model.pkl", "wb") as handle:
            pickle.dump({"model": model, "features": list(x_all.columns)}, handle)
    (target / "card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return run


def main(argv: list[str] | None = None) -> int:
    """`python -m tiering.risk_model --as-of YYYY-MM-DD` against $TIERING_HOME."""
    import argparse

    from tiering.config import get_paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--min-train-periods", type=int, default=ModelSettings.min_train_periods)
    args = parser.parse_args(argv)
    paths = get_paths()
    run = train_and_score(paths.warehouse, args.as_of, paths.models_dir,
                          ModelSettings(min_train_periods=args.min_train_periods))
    print(json.dumps(run, default=str, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
