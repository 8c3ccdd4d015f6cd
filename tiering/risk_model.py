"""The 12-month probability-of-default model (docs/risk_model.md).

`train_and_score` is one pipeline step between the two dbt steps. It reads the features model
(`intermediate.int_tiering_client_features_built`) and the default events
(`intermediate.int_tiering_default_events_listed`) from the warehouse and:

1. loads the training rows once: the firm's obligors (a credit profile at the period, not in a
   live default) at every period whose 12-month outcome window has closed by the as-of date,
   with the date each row's default became known; negatives are sampled in SQL when there are
   more than `max_train_rows` (kept rows carry the inverse sampling rate as weight);
2. fits a WOE scorecard (monotone binning + logistic regression with non-negative
   coefficients) **as of each period it scores**, from the rows whose window closed by that
   period and the defaults known by then: a period's PD never uses what happened after it;
3. validates the as-of model out of time (latest trainable periods, clients held out by fold);
4. versions every model under `models_dir` and scores in SQL, inside DuckDB: `ml.client_pd_scores`
   (one row per obligor per scored period) and one row per model in `ml.risk_model_runs`.

Periods scored: the as-of period, and every period with an obligor that has no score yet (all
of them on a fresh warehouse). A period once scored keeps its PD, so a month rebuilt later
equals its first build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.metrics import roc_auc_score

from tiering.config import duckdb_config

FEATURES_TABLE = "intermediate.int_tiering_client_features_built"
DEFAULTS_TABLE = "intermediate.int_tiering_default_events_listed"
PARAMETERS_TABLE = "seeds.tiering_parameters"
SCORES_TABLE = "ml.client_pd_scores"
RUNS_TABLE = "ml.risk_model_runs"
METHOD = "woe_scorecard"
COLD_START_METHOD = "rating_prior"

# Model inputs (columns of the features model) and the direction the PD moves in when the input
# grows: +1 up, -1 down. Every input is signed: the scorecard's points can only move the PD the
# way credit practice expects (a worse rating never lowers it), which keeps it explainable and
# stable across retrains. Inputs without a defensible sign (size, tenure, ...) are left out.
FEATURE_DIRECTIONS: dict[str, int] = {
    "internal_rating_rank": 1,
    "internal_rating_rank_avg_6m": 1,
    "internal_rating_rank_worst_6m": 1,
    "max_overdue_days": 1,
    "max_overdue_days_6m": 1,
    "watchlist_flag": 1,
    "watchlist_months_6m": 1,
    "utilisation_ratio": 1,
    "collateral_coverage_ratio": -1,
    "risk_event_count_3m": 1,
    "risk_event_count_12m": 1,
    "distress_event_count_12m": 1,
    "legal_event_count_12m": 1,
    "bureau_score": -1,
    "bureau_score_avg_6m": -1,
    "litigation_count_12m": 1,
    "litigation_count_avg_6m": 1,
    "penalty_count_12m": 1,
    "registry_revoked_flag": 1,
    "leverage_ratio": 1,
    "current_ratio": -1,
    "interest_coverage_ratio": -1,
    "cash_flow_to_debt_ratio": -1,
    "net_margin_ratio": -1,
}


@dataclass(frozen=True)
class ModelSettings:
    """Tuning of the training run; the defaults are the production settings."""

    label_horizon_months: int = 12
    min_train_periods: int = 3  # fewer trainable periods than this: cold start
    min_train_defaults: int = 20  # fewer defaults in the training rows: cold start
    test_periods: int = 6  # the latest trainable periods form the out-of-time test set
    folds: int = 5  # clients held out per fold in the out-of-time validation
    n_bins: int = 10  # quantile bins per input (plus one for missing)
    woe_prior: float = 2.0  # pseudo-rows pulling each bin's default rate to the base rate
    l2: float = 10.0  # ridge penalty on the coefficients
    max_train_rows: int = 400_000  # above this, negatives are sampled (weights 1 / rate)


# ---------------------------------------------------------------------------------------------
# metrics (pure helpers)


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ROC AUC (optionally weighted); NaN when only one class is present."""
    labels = np.asarray(labels)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores, sample_weight=weights))


def ks_statistic(labels: np.ndarray, scores: np.ndarray,
                 weights: np.ndarray | None = None) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of defaults and others."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    if labels.all() or (~labels).all():
        return float("nan")
    order = np.argsort(scores, kind="stable")
    s, y, w = scores[order], labels[order], weights[order]
    bad = np.cumsum(w * y) / (w * y).sum()
    good = np.cumsum(w * ~y) / (w * ~y).sum()
    last_of_value = np.r_[s[1:] != s[:-1], True]  # evaluate at the end of each run of ties
    return float(np.max(np.abs(bad - good)[last_of_value]))


def metric_summary(labels: np.ndarray, scores: np.ndarray,
                   weights: np.ndarray | None = None) -> dict[str, float]:
    value = auc(labels, scores, weights)
    return {"auc": value, "gini": 2 * value - 1, "ks": ks_statistic(labels, scores, weights)}


# ---------------------------------------------------------------------------------------------
# the scorecard (pure)


def _logit(p: np.ndarray | float) -> np.ndarray | float:
    return np.log(p) - np.log1p(-p)


def isotonic(values: np.ndarray, weights: np.ndarray, increasing: bool = True) -> np.ndarray:
    """Weighted least-squares monotone fit (pool adjacent violators)."""
    sign = 1.0 if increasing else -1.0
    blocks: list[list[float]] = []  # [value, weight, count]
    for v, w in zip(sign * np.asarray(values, float), np.asarray(weights, float)):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            total = w1 + w2
            blocks.append([(v1 * w1 + v2 * w2) / total if total > 0 else v1, total, n1 + n2])
    return sign * np.repeat([b[0] for b in blocks], [b[2] for b in blocks])


@dataclass
class BinnedInput:
    """One input: bin edges, the WOE of each bin and of 'missing', and its coefficient."""

    name: str
    direction: int
    edges: list[float]
    woe: list[float]
    missing_woe: float
    coefficient: float = 0.0

    def transform(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        bins = np.searchsorted(np.asarray(self.edges, dtype=float), values, side="right")
        woe = np.asarray(self.woe, dtype=float)[np.clip(bins, 0, len(self.woe) - 1)]
        return np.where(np.isnan(values), self.missing_woe, woe)

    def points_sql(self) -> str:
        """coefficient x WOE of the row's bin, as a SQL CASE (same bins as `transform`)."""
        def lit(x: float) -> str:
            return f"cast({float(x)!r} as double)"
        column = f"cast({self.name} as double)"
        whens = [f"when {column} is null then {lit(self.coefficient * self.missing_woe)}"]
        whens += [f"when {column} < {lit(edge)} then {lit(self.coefficient * woe)}"
                  for edge, woe in zip(self.edges, self.woe)]
        return f"case {' '.join(whens)} else {lit(self.coefficient * self.woe[-1])} end"


@dataclass
class Scorecard:
    intercept: float
    inputs: list[BinnedInput] = field(default_factory=list)

    def logit(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.full(len(frame), self.intercept, dtype=float)
        for item in self.inputs:
            if item.coefficient:
                total += item.coefficient * item.transform(
                    pd.to_numeric(frame[item.name], errors="coerce").to_numpy(dtype=float))
        return total

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(frame)))

    def pd_sql(self) -> str:
        points = [item.points_sql() for item in self.inputs if item.coefficient]
        logit = " + ".join([f"cast({self.intercept!r} as double)", *points])
        return f"1.0 / (1.0 + exp(-({logit})))"

    def to_dict(self) -> dict:
        return {"intercept": self.intercept, "inputs": [asdict(item) for item in self.inputs]}

    @classmethod
    def from_dict(cls, data: dict) -> Scorecard:
        return cls(data["intercept"], [BinnedInput(**item) for item in data["inputs"]])


def _bin_input(name: str, direction: int, values: np.ndarray, y: np.ndarray, w: np.ndarray,
               base: float, settings: ModelSettings) -> BinnedInput | None:
    known = ~np.isnan(values)
    if np.unique(values[known]).size < 2:
        return None  # nobody delivered it, or it never varies
    edges = np.unique(np.quantile(values[known], np.linspace(0, 1, settings.n_bins + 1)[1:-1]))
    bins = np.searchsorted(edges, values[known], side="right")
    n_bins = len(edges) + 1
    bads = np.bincount(bins, weights=(w * y)[known], minlength=n_bins)
    totals = np.bincount(bins, weights=w[known], minlength=n_bins)
    rate = (bads + settings.woe_prior * base) / (totals + settings.woe_prior)
    rate = isotonic(rate, totals + settings.woe_prior, increasing=direction > 0)
    missing_bad, missing_total = (w * y)[~known].sum(), w[~known].sum()
    missing_rate = (missing_bad + settings.woe_prior * base) / (missing_total + settings.woe_prior)
    return BinnedInput(name, direction, [float(e) for e in edges],
                       [float(v) for v in _logit(rate) - _logit(base)],
                       float(_logit(missing_rate) - _logit(base)))


def fit_scorecard(x: pd.DataFrame, y: np.ndarray, w: np.ndarray,
                  settings: ModelSettings) -> Scorecard:
    """Monotone WOE binning per input, then a ridge logistic regression on the WOE values with
    coefficients bounded at 0 (a bin's points always move the PD the input's way)."""
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    base = float(np.clip((w * y).sum() / w.sum(), 1e-6, 1 - 1e-6))
    inputs = [item for item in (
        _bin_input(c, FEATURE_DIRECTIONS[c], pd.to_numeric(x[c], errors="coerce")
                   .to_numpy(dtype=float), y, w, base, settings) for c in x.columns)
        if item is not None]
    z = np.column_stack([item.transform(pd.to_numeric(x[item.name], errors="coerce")
                                        .to_numpy(dtype=float)) for item in inputs]) \
        if inputs else np.zeros((len(y), 0))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s = theta[0] + z @ theta[1:]
        nll = (w * (y * np.logaddexp(0, -s) + (1 - y) * np.logaddexp(0, s))).sum()
        g = w * (1 / (1 + np.exp(-s)) - y)
        grad = np.concatenate([[g.sum()], z.T @ g + settings.l2 * theta[1:]])
        return nll + settings.l2 * (theta[1:] ** 2).sum() / 2, grad

    start = np.concatenate([[_logit(base)], np.full(len(inputs), 0.1)])
    fitted = minimize(loss, start, jac=True, method="L-BFGS-B",
                      bounds=[(None, None)] + [(0.0, None)] * len(inputs))
    for item, coefficient in zip(inputs, fitted.x[1:]):
        item.coefficient = float(coefficient) if coefficient > 1e-9 else 0.0
    return Scorecard(float(fitted.x[0]), inputs)


# ---------------------------------------------------------------------------------------------
# data


def _parameter(con: duckdb.DuckDBPyConnection, name: str, default: float) -> float:
    try:
        row = con.execute(
            f"select parameter_value from {PARAMETERS_TABLE} where parameter_name = ?", [name]
        ).fetchone()
    except duckdb.Error:
        return default
    return float(row[0]) if row else default


def _population_filter(as_of: date, horizon: int, alias: str = "features") -> str:
    """SQL predicate: the training population as of `as_of` (obligors, no live default, outcome
    window closed by `as_of`)."""
    return (f"{alias}.has_credit_profile and coalesce({alias}.live_default_count, 0) = 0 "
            f"and last_day({alias}.period_date + to_months({horizon})) <= date '{as_of}'")


def load_training_rows(con: duckdb.DuckDBPyConnection, as_of: date,
                       settings: ModelSettings) -> tuple[pd.DataFrame, float]:
    """Every row that can train a model as of `as_of` or earlier: obligors at a period whose
    outcome window closed by `as_of`, with the date its default became known (an event dated in
    the window, known once both dated and delivered). All rows whose default is known by
    `as_of` are kept while they are fewer than half of `max_train_rows`; beyond the budget each
    class is sampled (deterministic hash of key and period), every kept row weighing 1 / its
    inclusion rate. Returns the rows and the negatives' sampling rate. Set-based in DuckDB:
    only the sample reaches Python."""
    horizon = settings.label_horizon_months
    population = _population_filter(as_of, horizon)
    # defaults are few: label the rows that have one by a join from the defaults' side
    con.execute(f"""
        create or replace temp table risk_labels as
        select features.client_key, features.period_date,
            min(greatest(defaults.event_date, coalesce(defaults.first_extract_date,
                defaults.event_date))) as default_known_date
        from {DEFAULTS_TABLE} as defaults
        inner join {FEATURES_TABLE} as features
            on defaults.client_key = features.client_key
            and defaults.event_date > features.period_date
            and defaults.event_date <= last_day(features.period_date + to_months({horizon}))
        where {population}
        group by features.client_key, features.period_date
    """)
    total = con.execute(f"select count(*) from {FEATURES_TABLE} as features "
                        f"where {population}").fetchone()[0]
    positives = con.execute("select count(*) from risk_labels "
                            f"where default_known_date <= date '{as_of}'").fetchone()[0]
    negatives = total - positives
    # keep every default while they are under half the budget, and sample both classes beyond
    positive_rate = 1.0 if positives <= settings.max_train_rows // 2 else \
        (settings.max_train_rows // 2) / positives
    room = max(settings.max_train_rows - round(positives * positive_rate), 1)
    rate = 1.0 if negatives <= room else room / negatives
    columns = ", ".join(f"features.{c}" for c in FEATURE_DIRECTIONS)
    known = f"labels.default_known_date <= date '{as_of}'"
    frame = con.execute(
        f"""
        select features.client_key, features.period_date,
            last_day(features.period_date + to_months({horizon})) as window_end_date,
            labels.default_known_date,
            hash(features.client_key) % {settings.folds} as fold,
            case when {known} then 1.0 / {positive_rate!r} else 1.0 / {rate!r} end
                as sample_weight,
            features.rating_pd_prior, {columns}
        from {FEATURES_TABLE} as features
        left join risk_labels as labels
            on features.client_key = labels.client_key
            and features.period_date = labels.period_date
        where {population}
            and (hash(features.client_key || cast(features.period_date as varchar)) % 1000000)
                < case when coalesce({known}, false) then {positive_rate * 1_000_000!r}
                    else {rate * 1_000_000!r} end
        order by features.period_date, features.client_key
        """
    ).df()
    con.execute("drop table risk_labels")
    for column in ("period_date", "window_end_date", "default_known_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame, rate


def periods_to_score(con: duckdb.DuckDBPyConnection, as_of: date, rescore: bool) -> list[date]:
    """The as-of period, and every period whose obligors differ from its scored rows (none
    scored yet, or clients changed): compared per period by count and a checksum of keys."""
    latest = con.execute(f"select max(period_date) from {FEATURES_TABLE} "
                         "where period_date <= ?", [as_of]).fetchone()[0]
    if latest is None:
        return []
    if rescore:
        rows = con.execute(f"select distinct period_date from {FEATURES_TABLE} "
                           "where period_date <= ?", [as_of]).fetchall()
    else:
        rows = con.execute(
            f"""
            with obligors as (
                select period_date, count(*) as n, sum(hash(client_key) % 1000003) as checksum
                from {FEATURES_TABLE}
                where period_date <= ? and has_credit_profile
                group by period_date
            ),
            scored as (
                select period_date, count(*) as n, sum(hash(client_key) % 1000003) as checksum
                from {SCORES_TABLE}
                group by period_date
            )
            select obligors.period_date
            from obligors
            left join scored
                on obligors.period_date = scored.period_date
            where scored.n is distinct from obligors.n
                or scored.checksum is distinct from obligors.checksum
            """, [as_of]).fetchall()
    return sorted({row[0] for row in rows} | {latest})


# ---------------------------------------------------------------------------------------------
# training as of a period, validation


@dataclass
class FittedModel:
    version: str
    method: str
    period: date
    scorecard: Scorecard | None
    n_train: int
    n_train_defaults: int
    train_periods: list[str]


def _labels(rows: pd.DataFrame, as_of: date) -> np.ndarray:
    return (rows["default_known_date"] <= pd.Timestamp(as_of)).to_numpy().astype(int)


def _trainable(rows: pd.DataFrame, as_of: date) -> pd.DataFrame:
    return rows[rows["window_end_date"] <= pd.Timestamp(as_of)]


def _version(period: date, rows: pd.DataFrame, y: np.ndarray, settings: ModelSettings) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(settings), sort_keys=True).encode())
    digest.update(json.dumps(list(FEATURE_DIRECTIONS.items())).encode())
    digest.update(pd.util.hash_pandas_object(
        rows[["client_key", "period_date"]], index=False).to_numpy().tobytes())
    digest.update(np.asarray(y, dtype=np.int8).tobytes())
    return f"pd-{period:%Y%m%d}-{METHOD}-{digest.hexdigest()[:8]}"


def fit_as_of(rows: pd.DataFrame, period: date, settings: ModelSettings) -> FittedModel:
    """The model a run as of `period` trains: rows whose window closed by then, defaults known
    by then. Cold start (the rating's PD prior) when there is too little history."""
    train = _trainable(rows, period)
    y = _labels(train, period)
    periods = sorted(train["period_date"].dt.date.unique())
    if len(periods) < settings.min_train_periods or y.sum() < settings.min_train_defaults:
        return FittedModel(f"cold-start-rating-prior-{period:%Y%m%d}", COLD_START_METHOD, period,
                           None, len(train), int(y.sum()), [str(p) for p in periods])
    scorecard = fit_scorecard(train[list(FEATURE_DIRECTIONS)], y,
                              train["sample_weight"].to_numpy(), settings)
    return FittedModel(_version(period, train, y, settings), METHOD, period, scorecard,
                       len(train), int(y.sum()), [str(p) for p in periods])


def _baseline_scores(test: pd.DataFrame, unrated_prior: float) -> dict[str, np.ndarray]:
    """Single inputs used alone, higher = riskier; a missing input gets the neutral middle."""
    rating = test["rating_pd_prior"].astype(float).fillna(unrated_prior).to_numpy()
    bureau = -pd.to_numeric(test["bureau_score"], errors="coerce").astype(float)
    bureau = bureau.fillna(bureau.median() if bureau.notna().any() else 0.0).to_numpy()
    return {"internal_rating": rating, "bureau_score": bureau}


def validate(rows: pd.DataFrame, as_of: date, settings: ModelSettings,
             unrated_prior: float) -> tuple[dict, pd.DataFrame]:
    """Out of time and out of client: the latest `test_periods` trainable periods are the test
    set; each fold of clients is scored by a model fitted on the earlier periods of the other
    clients (so no test client's own outcome is ever learnt). Metrics beside the internal
    rating alone and the bureau score alone on the same rows."""
    train_all = _trainable(rows, as_of)
    periods = np.sort(train_all["period_date"].unique())
    n_test = min(settings.test_periods, len(periods) // 2)
    empty = {"n_test": 0, "n_test_defaults": 0, "auc_oot": float("nan"),
             "gini_oot": float("nan"), "ks_oot": float("nan"),
             "auc_internal_rating": float("nan"), "auc_bureau_score": float("nan")}
    if n_test == 0:
        return empty, pd.DataFrame()
    is_test = train_all["period_date"].isin(periods[-n_test:]).to_numpy()
    y = _labels(train_all, as_of)
    fold = train_all["fold"].to_numpy()
    pd_oot = np.full(len(train_all), np.nan)
    for k in range(settings.folds):
        fit_rows = ~is_test & (fold != k)
        score_rows = is_test & (fold == k)
        if not score_rows.any() or y[fit_rows].sum() < settings.min_train_defaults:
            continue
        model = fit_scorecard(train_all.loc[fit_rows, list(FEATURE_DIRECTIONS)], y[fit_rows],
                              train_all.loc[fit_rows, "sample_weight"].to_numpy(), settings)
        pd_oot[score_rows] = model.predict(train_all.loc[score_rows])
    scored = is_test & ~np.isnan(pd_oot)
    test = train_all.loc[scored]
    y_test, w_test = y[scored], test["sample_weight"].to_numpy()
    if y_test.sum() == 0:
        return empty, pd.DataFrame()
    baselines = _baseline_scores(test, unrated_prior)
    metrics = metric_summary(y_test, pd_oot[scored], w_test)
    result = {
        "n_test": int(scored.sum()), "n_test_defaults": int(y_test.sum()),
        "auc_oot": metrics["auc"], "gini_oot": metrics["gini"], "ks_oot": metrics["ks"],
        "auc_internal_rating": auc(y_test, baselines["internal_rating"], w_test),
        "auc_bureau_score": auc(y_test, baselines["bureau_score"], w_test),
    }
    predictions = pd.DataFrame({
        "client_key": test["client_key"].to_numpy(),
        "period_date": test["period_date"].dt.date.to_numpy(),
        "default_next_12m": y_test,
        "sample_weight": w_test,
        "pd_oot": pd_oot[scored],
        **{f"{name}_risk": values for name, values in baselines.items()},
    })
    return result, predictions


# ---------------------------------------------------------------------------------------------
# writing


RUN_COLUMNS = {
    "model_version": "varchar", "trained_at": "timestamp", "as_of_date": "date",
    "method": "varchar", "n_train": "bigint", "n_test": "bigint",
    "n_train_defaults": "bigint", "n_test_defaults": "bigint", "auc_oot": "double",
    "gini_oot": "double", "ks_oot": "double", "auc_internal_rating": "double",
    "auc_bureau_score": "double", "train_sample_rate": "double", "n_inputs": "bigint",
    "train_periods": "varchar",
}


def _prepare_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ml")
    con.execute(f"create table if not exists {SCORES_TABLE} (client_key varchar, "
                "period_date date, pd_12m double, model_version varchar)")
    columns = ", ".join(f"{name} {kind}" for name, kind in RUN_COLUMNS.items())
    con.execute(f"create table if not exists {RUNS_TABLE} ({columns})")
    for name, kind in RUN_COLUMNS.items():  # warehouses from before a column was added
        con.execute(f"alter table {RUNS_TABLE} add column if not exists {name} {kind}")


def _score_period(con: duckdb.DuckDBPyConnection, model: FittedModel,
                  unrated_prior: float) -> int:
    """Replace the period's scores: one row per obligor, computed in SQL."""
    if model.scorecard is None:
        expression = f"coalesce(rating_pd_prior, {unrated_prior!r})"
    else:
        expression = model.scorecard.pd_sql()
    con.execute(f"delete from {SCORES_TABLE} where period_date = ?", [model.period])
    con.execute(
        f"""
        insert into {SCORES_TABLE}
        select client_key, period_date, least(greatest({expression}, 0.0), 1.0), ?
        from {FEATURES_TABLE}
        where period_date = ? and has_credit_profile
        """, [model.version, model.period])
    return con.execute(f"select count(*) from {SCORES_TABLE} where period_date = ?",
                       [model.period]).fetchone()[0]


def _record_run(con: duckdb.DuckDBPyConnection, run: dict) -> None:
    con.execute(f"delete from {RUNS_TABLE} where model_version = ?", [run["model_version"]])
    columns = list(RUN_COLUMNS)
    values = [None if isinstance(run.get(c), float) and np.isnan(run[c]) else run.get(c)
              for c in columns]
    con.execute(f"insert into {RUNS_TABLE} ({', '.join(columns)}) values "
                f"({', '.join('?' for _ in columns)})", values)


def _save(models_dir: Path, model: FittedModel, run: dict, settings: ModelSettings,
          predictions: pd.DataFrame | None) -> None:
    target = Path(models_dir) / model.version
    target.mkdir(parents=True, exist_ok=True)
    card = {
        **{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in run.items()},
        "settings": asdict(settings),
        "label": f"违约 risk event within {settings.label_horizon_months} months after the "
                 "period, known by the model's as-of date",
        "population": "obligors: a credit profile at the period, no live default",
        "inputs": {c: FEATURE_DIRECTIONS[c] for c in FEATURE_DIRECTIONS},
    }
    if model.scorecard is not None:
        card["scorecard"] = model.scorecard.to_dict()
        (target / "scorecard.json").write_text(json.dumps(model.scorecard.to_dict(), indent=2),
                                               encoding="utf-8")
        (target / "score.sql").write_text(model.scorecard.pd_sql() + "\n", encoding="utf-8")
    if predictions is not None and len(predictions):
        predictions.to_parquet(target / "oot_predictions.parquet", index=False)
    (target / "card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def train_and_score(
    warehouse: Path,
    as_of: date,
    models_dir: Path,
    settings: ModelSettings | None = None,
    rescore: bool = False,
) -> dict:
    """Fit the model as of every period to score (see the module docstring), score those
    periods, validate the as-of model out of time and record every model. Returns the as-of
    model's run record (also its model card's content)."""
    settings = settings or ModelSettings()
    with duckdb.connect(str(warehouse), config=duckdb_config()) as con:
        _prepare_tables(con)
        unrated_prior = _parameter(con, "unrated_pd_prior", 0.02)
        rows, rate = load_training_rows(con, as_of, settings)
        periods = periods_to_score(con, as_of, rescore)
        run: dict = {}
        for period in periods:
            model = fit_as_of(rows, period, settings)
            is_as_of = period == periods[-1]
            metrics, predictions = ({}, None)
            if is_as_of and model.scorecard is not None:
                metrics, predictions = validate(rows, period, settings, unrated_prior)
            record = {
                "model_version": model.version,
                "trained_at": datetime.now(timezone.utc).replace(tzinfo=None),
                "as_of_date": period, "method": model.method, "n_train": model.n_train,
                "n_train_defaults": model.n_train_defaults, "train_sample_rate": rate,
                "n_inputs": sum(1 for i in model.scorecard.inputs if i.coefficient)
                if model.scorecard else 0,
                "train_periods": f"{model.train_periods[0]}..{model.train_periods[-1]}"
                if model.train_periods else None,
                "n_test": 0, "n_test_defaults": 0, "auc_oot": float("nan"),
                "gini_oot": float("nan"), "ks_oot": float("nan"),
                "auc_internal_rating": float("nan"), "auc_bureau_score": float("nan"),
                **metrics,
            }
            record["rows_scored"] = _score_period(con, model, unrated_prior)
            _record_run(con, record)
            _save(models_dir, model, record, settings, predictions)
            if is_as_of:
                run = record
        run["periods_scored"] = [str(p) for p in periods]
    return run


def main(argv: list[str] | None = None) -> int:
    """`python -m tiering.risk_model --as-of YYYY-MM-DD` against $TIERING_HOME."""
    import argparse

    from tiering.config import get_paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--min-train-periods", type=int, default=ModelSettings.min_train_periods)
    parser.add_argument("--rescore", action="store_true",
                        help="score every period again (point in time), not only new ones")
    args = parser.parse_args(argv)
    paths = get_paths()
    run = train_and_score(paths.warehouse, args.as_of, paths.models_dir,
                          ModelSettings(min_train_periods=args.min_train_periods), args.rescore)
    print(json.dumps(run, default=str, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
