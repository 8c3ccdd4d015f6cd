"""The risk model on a synthetic warehouse (no dbt needed): labels, out-of-time split, versioning,
written tables, cold start, no look-ahead; and the metric helpers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiering.risk_model import (
    FEATURE_DIRECTIONS,
    ModelSettings,
    auc,
    ks_statistic,
    model_matrix,
    train_and_score,
)

FEATURE_COLUMNS = [
    "internal_rating_rank", "rating_pd_prior", "max_overdue_days", "watchlist_flag",
    "bureau_score", "risk_event_count_12m", "distress_event_count_12m", "legal_event_count_12m",
    "default_count_ever", "litigation_count_12m", "penalty_count_12m", "registry_revoked_flag",
    "active_months_12m", "months_since_last_receipt", "tenure_months", "department_count",
    "complaint_count_12m", "satisfaction_avg_12m", "total_liabilities_amount",
    "total_assets_amount", "current_assets_amount", "current_liabilities_amount",
    "net_profit_amount", "interest_expense_amount", "operating_cash_flow_amount",
    "revenue_amount", "revenue_prior_year_amount", "outstanding_balance_amount",
    "credit_limit_amount", "collateral_value_amount", "income_12m_amount",
    "income_prior_12m_amount", "registered_capital_amount", "live_default_count",
]


def make_warehouse(path: Path, clients: int = 400, months: int = 24, seed: int = 3) -> None:
    """Features with a latent quality; defaults drawn from it month by month."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-01-31", periods=months, freq="ME")
    quality = rng.normal(size=clients)
    rows, defaults = [], []
    for i, period in enumerate(periods):  # months, not rows: a short loop
        drift = quality + 0.1 * i * rng.normal(size=clients) * 0.1
        frame = pd.DataFrame({c: np.nan for c in FEATURE_COLUMNS}, index=range(clients))
        frame["client_key"] = [f"C{k:04d}" for k in range(clients)]
        frame["period_date"] = period.date()
        frame["internal_rating_rank"] = np.clip(np.round(5 - 1.5 * drift
                                                         + rng.normal(size=clients)), 1, 10)
        frame["rating_pd_prior"] = 0.001 * np.exp(0.6 * frame["internal_rating_rank"])
        frame["bureau_score"] = 600 + 60 * drift + 60 * rng.normal(size=clients)
        frame["max_overdue_days"] = np.clip(30 * (-drift + rng.normal(size=clients)), 0, 365)
        frame["live_default_count"] = 0
        frame["income_12m_amount"] = np.exp(rng.normal(12, 1, size=clients))
        frame["income_prior_12m_amount"] = np.exp(rng.normal(12, 1, size=clients))
        rows.append(frame)
        monthly_pd = 1 / (1 + np.exp(4.5 + 1.5 * drift))
        hit = rng.random(clients) < monthly_pd
        defaults += [(f"E{i}-{k}", f"C{k:04d}", period.date()) for k in np.flatnonzero(hit)]
    features = pd.concat(rows, ignore_index=True)
    events = pd.DataFrame(defaults, columns=["event_id", "client_key", "event_date"])
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.register("f", features)
        con.register("e", events)
        con.execute("create table intermediate.int_tiering_client_features_built as "
                    "select * from f")
        con.execute("create table intermediate.int_tiering_default_events_listed as "
                    "select event_id, client_key, cast(event_date as date) as event_date from e")


def test_metrics():
    labels = np.array([0, 0, 1, 1])
    assert auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert ks_statistic(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert np.isnan(auc(np.zeros(3), np.arange(3)))


def test_model_matrix_has_every_feature():
    frame = pd.DataFrame({c: [1.0, 0.0] for c in FEATURE_COLUMNS})
    x = model_matrix(frame)
    assert list(x.columns) == list(FEATURE_DIRECTIONS)
    assert not np.isinf(x.to_numpy(dtype=float)).any()


def test_train_and_score_writes_scores_and_run(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse)
    run = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models")
    assert run["method"] == "monotone_gbm"
    assert run["auc_oot"] > 0.7
    assert run["n_test"] > 0 and run["n_train"] > 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = con.execute("select * from ml.client_pd_scores").df()
        runs = con.execute("select * from ml.risk_model_runs").df()
    assert len(scores) == 400 * 24
    assert scores.pd_12m.between(0, 1).all()
    assert runs.model_version.tolist() == [run["model_version"]]
    folder = tmp_path / "models" / run["model_version"]
    assert (folder / "card.json").exists() and (folder / "model.pkl").exists()
    oot = pd.read_parquet(folder / "oot_predictions.parquet")
    # only periods whose 12-month window closed by the as-of date are tested
    assert pd.to_datetime(oot.period_date).max() <= pd.Timestamp("2024-12-31")


def test_labels_do_not_look_ahead(tmp_path):
    """Defaults after the as-of date must not change the model: same as-of, same version."""
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse)
    first = train_and_score(warehouse, date(2025, 6, 30), tmp_path / "models")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into intermediate.int_tiering_default_events_listed "
                    "select 'late-' || client_key, client_key, date '2025-09-30' "
                    "from intermediate.int_tiering_client_features_built "
                    "where period_date = date '2025-06-30'")
    second = train_and_score(warehouse, date(2025, 6, 30), tmp_path / "models")
    assert first["model_version"] == second["model_version"]
    assert first["auc_oot"] == pytest.approx(second["auc_oot"])


def test_cold_start_uses_rating_prior(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, months=6)
    run = train_and_score(warehouse, date(2024, 6, 30), tmp_path / "models", ModelSettings())
    assert run["method"] == "rating_prior"
    assert run["model_version"].startswith("cold-start-rating-prior-")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        check = con.execute("""
            select max(abs(s.pd_12m - f.rating_pd_prior)) from ml.client_pd_scores s
            join intermediate.int_tiering_client_features_built f using (client_key, period_date)
        """).fetchone()[0]
    assert check < 1e-12
