"""The risk model on a synthetic warehouse (no dbt needed): the scorecard's monotone bins, SQL
scoring equal to Python scoring, out-of-time validation, point-in-time scoring (a period's PD
never uses what happened after it), versioning, sampling, cold start; and the metric helpers."""

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
    Scorecard,
    auc,
    fit_scorecard,
    isotonic,
    ks_statistic,
    load_training_rows,
    train_and_score,
)

START = "2024-01-31"


def make_warehouse(path: Path, clients: int = 500, months: int = 24, seed: int = 3,
                   obligor_share: float = 0.7) -> None:
    """Features driven by a latent credit quality (a random walk); defaults drawn from it
    month by month; a share of clients are obligors (a credit profile)."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range(START, periods=months, freq="ME")
    quality = rng.normal(size=clients)
    obligor = rng.random(clients) < obligor_share
    defaulted_at = np.full(clients, -1)
    rows, defaults = [], []
    for i, period in enumerate(periods):  # months, not rows: a short loop
        quality = quality + 0.15 * rng.normal(size=clients)
        live = (defaulted_at >= 0) & (i - defaulted_at < 12)
        frame = pd.DataFrame({c: np.nan for c in FEATURE_DIRECTIONS}, index=range(clients))
        frame["client_key"] = [f"C{k:04d}" for k in range(clients)]
        frame["period_date"] = period.date()
        frame["has_credit_profile"] = obligor
        rank = np.clip(np.round(5 - 1.5 * quality + rng.normal(size=clients)), 1, 10)
        frame["internal_rating_rank"] = np.where(obligor, rank, np.nan)
        frame["rating_pd_prior"] = np.where(obligor, 0.001 * np.exp(0.6 * rank), np.nan)
        frame["bureau_score"] = 600 + 60 * quality + 60 * rng.normal(size=clients)
        frame["max_overdue_days"] = np.where(
            obligor, np.clip(30 * (-quality + rng.normal(size=clients)), 0, 365), np.nan)
        frame["utilisation_ratio"] = np.where(
            obligor, 1 / (1 + np.exp(quality + rng.normal(size=clients))), np.nan)
        frame["live_default_count"] = live.astype(int)
        rows.append(frame)
        monthly_pd = 1 / (1 + np.exp(4.5 + 1.5 * quality))
        hit = (rng.random(clients) < monthly_pd) & obligor & (defaulted_at < 0)
        defaulted_at[hit] = i
        defaults += [(f"E{i}-{k}", f"C{k:04d}", period.date(), period.date())
                     for k in np.flatnonzero(hit)]
    features = pd.concat(rows, ignore_index=True)
    events = pd.DataFrame(defaults, columns=["event_id", "client_key", "event_date",
                                             "first_extract_date"])
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.register("f", features)
        con.register("e", events)
        con.execute("create table intermediate.int_tiering_client_features_built as "
                    "select * exclude (period_date), cast(period_date as date) as period_date "
                    "from f")
        con.execute("create table intermediate.int_tiering_default_events_listed as "
                    "select event_id, client_key, cast(event_date as date) as event_date, "
                    "cast(first_extract_date as date) as first_extract_date from e")


def query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    make_warehouse(path)
    return path


def test_metrics():
    labels = np.array([0, 0, 1, 1])
    assert auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert ks_statistic(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert ks_statistic(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0  # ties: no separation
    assert np.isnan(auc(np.zeros(3), np.arange(3)))
    # a weight of 2 counts like a duplicated row
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    weighted = auc(labels, scores, np.array([2.0, 1.0, 1.0, 1.0]))
    duplicated = auc(np.r_[labels, 0], np.r_[scores, 0.1])
    assert weighted == pytest.approx(duplicated)


def test_isotonic_pools_violators():
    fitted = isotonic(np.array([0.1, 0.3, 0.2, 0.4]), np.ones(4))
    assert np.allclose(fitted, [0.1, 0.25, 0.25, 0.4])
    assert np.allclose(isotonic(np.array([0.4, 0.5, 0.1]), np.ones(3), increasing=False),
                       [0.45, 0.45, 0.1])


def test_scorecard_points_follow_the_declared_direction():
    rng = np.random.default_rng(0)
    n = 20_000
    quality = rng.normal(size=n)
    x = pd.DataFrame({c: np.nan for c in FEATURE_DIRECTIONS}, index=range(n))
    x["internal_rating_rank"] = np.clip(np.round(5 - 1.5 * quality + rng.normal(size=n)), 1, 10)
    x["bureau_score"] = np.where(rng.random(n) < 0.6, 600 + 60 * quality
                                 + 80 * rng.normal(size=n), np.nan)
    x["leverage_ratio"] = rng.random(n)  # pure noise
    y = (rng.random(n) < 1 / (1 + np.exp(3 + 1.5 * quality))).astype(int)
    model = fit_scorecard(x, y, np.ones(n), ModelSettings())
    by_name = {item.name: item for item in model.inputs}
    assert set(by_name) == {"internal_rating_rank", "bureau_score", "leverage_ratio"}
    for name, item in by_name.items():
        points = item.coefficient * np.asarray(item.woe)
        steps = np.diff(points) * FEATURE_DIRECTIONS[name]
        assert (steps >= -1e-12).all(), name  # PD moves only the declared way
        assert item.coefficient >= 0
    assert by_name["internal_rating_rank"].coefficient > 0
    # the predicted PD is close to the observed default rate
    assert model.predict(x).mean() == pytest.approx(y.mean(), rel=0.05)
    again = Scorecard.from_dict(model.to_dict())
    assert np.allclose(again.predict(x), model.predict(x))


def test_train_and_score_writes_scores_and_runs(warehouse, tmp_path):
    run = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models")
    assert run["method"] == "woe_scorecard"
    assert run["auc_oot"] > 0.7
    assert run["auc_oot"] > run["auc_bureau_score"]
    assert run["n_test"] > 0 and run["n_train"] > 0 and run["train_sample_rate"] == 1.0
    scores = query(warehouse, "select * from ml.client_pd_scores")
    features = query(warehouse, "select client_key, period_date from "
                                "intermediate.int_tiering_client_features_built "
                                "where has_credit_profile")
    assert len(scores) == len(features)  # every obligor of every period, nobody else
    assert scores.pd_12m.between(0, 1).all()
    runs = query(warehouse, "select * from ml.risk_model_runs")
    assert set(scores.model_version) == set(runs.model_version)
    assert run["model_version"] in set(runs.model_version)
    assert runs.model_version.is_unique
    folder = tmp_path / "models" / run["model_version"]
    for name in ("card.json", "scorecard.json", "score.sql", "oot_predictions.parquet"):
        assert (folder / name).exists(), name
    oot = pd.read_parquet(folder / "oot_predictions.parquet")
    # only periods whose 12-month window closed by the as-of date are tested
    assert pd.to_datetime(oot.period_date).max() <= pd.Timestamp("2024-12-31")


def test_sql_scores_equal_python_scores(warehouse, tmp_path):
    run = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models")
    model = Scorecard.from_dict(pd.read_json(
        tmp_path / "models" / run["model_version"] / "scorecard.json", typ="series").to_dict())
    rows = query(warehouse, """
        select features.*, scores.pd_12m as sql_pd
        from intermediate.int_tiering_client_features_built as features
        inner join ml.client_pd_scores as scores using (client_key, period_date)
        where period_date = date '2025-12-31'""")
    assert np.allclose(model.predict(rows), rows["sql_pd"], atol=1e-12)


def test_history_is_scored_point_in_time(warehouse, tmp_path):
    """Each period is scored by the model as of that period: defaults that became known after
    a period change no PD of that period or before it."""
    train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models")
    before = query(warehouse, "select * from ml.client_pd_scores order by all")
    cutoff = date(2025, 6, 30)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""
            insert into intermediate.int_tiering_default_events_listed
            select 'late-' || client_key, client_key, date '2025-07-15', date '2025-07-31'
            from intermediate.int_tiering_client_features_built
            where period_date = date '2024-12-31' and has_credit_profile
                and client_key < 'C0150'""")
    train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models", rescore=True)
    after = query(warehouse, "select * from ml.client_pd_scores order by all")
    early = pd.to_datetime(before.period_date) <= pd.Timestamp(cutoff)
    pd.testing.assert_frame_equal(before[early].reset_index(drop=True),
                                  after[early].reset_index(drop=True))
    later = before.merge(after, on=["client_key", "period_date"])
    later = later[pd.to_datetime(later.period_date) == pd.Timestamp("2025-12-31")]
    assert (later.pd_12m_x != later.pd_12m_y).any()


def test_defaults_after_the_as_of_date_change_nothing(warehouse, tmp_path):
    first = train_and_score(warehouse, date(2025, 6, 30), tmp_path / "models")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""
            insert into intermediate.int_tiering_default_events_listed
            select 'late-' || client_key, client_key, date '2025-09-30', date '2025-09-30'
            from intermediate.int_tiering_client_features_built
            where period_date = date '2025-06-30'""")
    second = train_and_score(warehouse, date(2025, 6, 30), tmp_path / "models")
    assert first["model_version"] == second["model_version"]
    assert first["auc_oot"] == pytest.approx(second["auc_oot"])


def test_scored_periods_keep_their_pd(warehouse, tmp_path):
    """A later run scores only the new period (and the as-of one): history is not rewritten."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table late_month as select * from "
                    "intermediate.int_tiering_client_features_built "
                    "where period_date = date '2025-12-31'")
        con.execute("delete from intermediate.int_tiering_client_features_built "
                    "where period_date = date '2025-12-31'")
    first = train_and_score(warehouse, date(2025, 11, 30), tmp_path / "models")
    before = query(warehouse, "select * from ml.client_pd_scores order by all")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into intermediate.int_tiering_client_features_built "
                    "select * from late_month")
    second = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models")
    assert second["periods_scored"] == ["2025-12-31"]
    after = query(warehouse, "select * from ml.client_pd_scores "
                             "where period_date < date '2025-12-31' order by all")
    pd.testing.assert_frame_equal(before, after)
    assert first["model_version"] != second["model_version"]


def test_negatives_are_sampled_above_max_train_rows(warehouse, tmp_path):
    settings = ModelSettings(max_train_rows=1500)
    run = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models", settings)
    assert 0 < run["train_sample_rate"] < 1
    assert run["method"] == "woe_scorecard"
    assert run["auc_oot"] > 0.65
    again = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models2", settings)
    assert again["model_version"] == run["model_version"]  # the sample is deterministic
    # a budget below the defaults: both classes sampled, the PD stays calibrated
    tight = ModelSettings(max_train_rows=300, min_train_defaults=5)
    small = train_and_score(warehouse, date(2025, 12, 31), tmp_path / "models3", tight)
    assert small["method"] == "woe_scorecard" and small["n_train"] <= 330
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows, _ = load_training_rows(con, date(2025, 12, 31), tight)
        everything, _ = load_training_rows(con, date(2025, 12, 31), ModelSettings())
    known = (rows.default_known_date <= pd.Timestamp("2025-12-31"))
    all_known = (everything.default_known_date <= pd.Timestamp("2025-12-31"))
    weighted_rate = (rows.sample_weight * known).sum() / rows.sample_weight.sum()
    assert weighted_rate == pytest.approx(all_known.mean(), rel=0.25)


def test_cold_start_uses_rating_prior(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, months=6)
    run = train_and_score(warehouse, date(2024, 6, 30), tmp_path / "models", ModelSettings())
    assert run["method"] == "rating_prior"
    assert run["model_version"].startswith("cold-start-rating-prior-")
    check = query(warehouse, """
        select max(abs(s.pd_12m - f.rating_pd_prior)) as gap, count(*) as n
        from ml.client_pd_scores s
        join intermediate.int_tiering_client_features_built f using (client_key, period_date)
    """)
    assert check["gap"].item() < 1e-12 and check["n"].item() > 0
