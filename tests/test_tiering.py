"""Tiering end to end on a small simulation: simulate → ingest → dbt build (upstream of the risk
model) → train_and_score → dbt build (tag after_risk_model); then assert on the tables, and that
rebuilding one month incrementally equals its first build."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dbt_cli import run_dbt

from tiering.config import PROJECT_DIR, Paths

CLIENTS = 600
MONTHS = 15
START = "2024-11"
AS_OF = date(2026, 1, 31)  # last month end of the simulation
# The staging and identity models' dbt unit tests run in their own suites (test_staging,
# test_identity); here only the tiering ones.
OTHER_AREAS_UNIT_TESTS = ("test_type:unit,path:models/staging",
                          "test_type:unit,path:models/intermediate/identity")


def dbt(home: Path, *args: str, as_of: date = AS_OF, periods_per_statement: int | None = None,
        tier_rows_per_statement: int | None = None) -> None:
    # the as-of date as `tiering` gives it (macros/as_of_date.sql): a new month reuses the parse
    env = {**os.environ, "TIERING_AS_OF_DATE": as_of.isoformat()}
    batches = []
    if periods_per_statement is not None:
        batches.append(f"tiering_periods_per_statement: {periods_per_statement}")
    if tier_rows_per_statement is not None:
        batches.append(f"tiering_tier_rows_per_statement: {tier_rows_per_statement}")
    result = run_dbt(home, *args, "--vars", f"{{{', '.join(batches)}}}", env=env)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout[-6000:]}")


def build_tiering(home: Path, as_of: date, min_train_periods: int = 2) -> dict:
    """The pipeline order: dbt upstream of the risk model, the model, dbt after it."""
    from tiering.risk_model import ModelSettings, train_and_score

    dbt(home, "build", "--exclude", "tag:after_risk_model", *OTHER_AREAS_UNIT_TESTS,
        as_of=as_of)
    run = train_and_score(home / "warehouse.duckdb", as_of, home / "models",
                          ModelSettings(min_train_periods=min_train_periods,
                                        min_train_defaults=5))
    dbt(home, "build", "--select", "tag:after_risk_model", as_of=as_of)
    return run


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, dict]:
    from tiering.ingest import ingest
    from tiering.simulate import simulate

    home = tmp_path_factory.mktemp("tier_home")
    simulate(home / "landing", home / "truth", CLIENTS, MONTHS, START, 11)
    ingest(Paths(home=home))
    run = build_tiering(home, AS_OF)
    return home, run


def query(home: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


def test_tiers_exist_for_the_as_of_period(warehouse):
    home, _ = warehouse
    counts = query(home, """
        select profile_code, count(*) as n, count(distinct tier_code) as tiers
        from marts.client_tiers where period_date = date '2026-01-31' group by 1""")
    assert len(counts) == 7  # default + six project types
    assert counts["n"].min() > CLIENTS * 0.5
    assert counts.loc[counts.profile_code == "default", "tiers"].item() >= 4
    current = query(home, "select count(*) as n from marts.client_tiers_current")
    assert current["n"].item() == counts.loc[counts.profile_code == "default", "n"].item()


def test_scores_within_bounds_and_explained(warehouse):
    home, _ = warehouse
    tiers = query(home, "select * from marts.client_tiers")
    for dimension in ("value", "credit", "risk_tolerance", "influence", "potential", "loyalty"):
        assert tiers[f"{dimension}_score"].between(0, 100).all(), dimension
        assert tiers[f"{dimension}_coverage"].between(0, 1).all(), dimension
    assert tiers["composite_score"].between(0, 100).all()
    assert tiers["pd_12m"].between(0, 1).all()
    assert tiers["reason_code_1"].notna().all() and tiers["reason_label_3"].notna().all()
    contributions = tiers[[c for c in tiers.columns if c.endswith("_contribution")]].sum(axis=1)
    assert (contributions - tiers["composite_score"]).abs().max() < 0.05
    # neutral treatment: coverage 0 means exactly the neutral 50
    no_input = tiers[tiers["risk_tolerance_coverage"] == 0]
    assert (no_input["risk_tolerance_score"] == 50).all()


def test_guardrails_hold(warehouse):
    home, _ = warehouse
    tiers = query(home, "select * from marts.client_tiers")
    forced = tiers[tiers.guardrail_code.isin(["registry_revoked", "live_default"])]
    assert len(forced) > 0, "simulation should contain revoked or defaulted clients"
    assert (forced.tier_code == "D").all()
    capped = tiers[tiers.guardrail_code.isin(["credit_floor", "delinquency"])]
    assert capped.tier_code.isin(["C", "D"]).all()
    # seriously past due within 6 months (cured or not): never above C, unless overridden
    delinquent = query(home, """
        select distinct period_date, client_key from intermediate.int_tiering_client_features_built
        where max_overdue_days_6m >= 60""")
    joined = delinquent.merge(tiers, on=["period_date", "client_key"])
    assert len(joined) > 0, "simulation should contain clients seriously past due"
    assert (joined.guardrail_code != "none").all()
    assert joined[~joined.is_override].tier_code.isin(["C", "D"]).all()
    assert (joined.guardrail_code == "delinquency").any()
    revoked = query(home, """
        select distinct period_date, client_key from intermediate.int_tiering_client_features_built
        where registry_revoked_flag = 1""")
    joined = revoked.merge(tiers, on=["period_date", "client_key"])
    assert (joined.tier_code == "D").all()


def test_guardrails_visible_beside_the_band(warehouse):
    home, _ = warehouse
    rows = query(home, """
        select band_tier_code, guardrail_code, guardrail_cap_tier_code, tier_code,
            is_guardrail_binding
        from intermediate.int_tiering_composites_weighted
        where period_date = date '2026-01-31'""")
    order = {code: rank for rank, code in enumerate("SABCD")}
    final = rows.tier_code.map(order)
    assert (final >= rows.band_tier_code.map(order)).all()
    guarded = rows[rows.guardrail_code != "none"]
    assert (final[guarded.index] >= guarded.guardrail_cap_tier_code.map(order)).all()
    assert rows.loc[rows.guardrail_code == "none", "guardrail_cap_tier_code"].isna().all()
    assert (rows.is_guardrail_binding == (rows.tier_code != rows.band_tier_code)).all()
    capped = rows[rows.guardrail_code == "credit_floor"]
    assert (capped.guardrail_cap_tier_code == "C").all()


def test_long_tail_and_rising_stars(warehouse):
    home, _ = warehouse
    tail = query(home, "select * from marts.long_tail_clients")
    assert tail.client_key.is_unique
    assert (tail.income_rank.sort_values().to_numpy() == range(1, len(tail) + 1)).all()
    head = tail[tail.pareto_segment == "head"]
    assert 0 < len(head) < len(tail) * 0.5
    assert tail.tail_income_share.nunique() == 1
    assert 0 < tail.tail_income_share.iloc[0] < 0.3
    assert tail.cumulative_income_share.max() == pytest.approx(1.0)
    stars = tail[tail.is_rising_star]
    assert len(stars) > 0
    assert (stars.pareto_segment == "tail").all()
    assert stars.rising_star_reason.str.startswith("长尾新星").all()
    assert tail.loc[~tail.is_rising_star, "rising_star_reason"].isna().all()
    # growth percentile: the revenue growth's percent rank among the clients with statements,
    # else the fee-income growth's, pulled toward the median (seed tiering_parameters)
    features = query(home, """select client_key, income_growth_ratio
        from intermediate.int_tiering_client_features_built
        where period_date = (select max(period_date) from marts.long_tail_clients)""")
    rows = tail.merge(features, on="client_key", how="left")

    def percent_rank(values: pd.Series) -> pd.Series:
        return 100 * (values.rank(method="min") - 1) / max(values.notna().sum() - 1, 1)

    parameters = pd.read_csv(PROJECT_DIR / "seeds" / "tiering" / "tiering_parameters.csv",
                             index_col="parameter_name").parameter_value
    weight = parameters["rising_star_income_growth_weight"]
    revenue = rows.revenue_growth_rate.notna()
    income = ~revenue & rows.income_growth_ratio.notna()
    expected = percent_rank(rows.revenue_growth_rate).where(
        revenue, 50 + weight * (percent_rank(rows.income_growth_ratio) - 50))
    assert revenue.any() and income.any()
    assert rows.growth_percentile[revenue | income].to_numpy() == pytest.approx(
        expected[revenue | income].to_numpy())
    assert rows.growth_percentile[~revenue & ~income].isna().all()
    assert (rows.growth_source[revenue] == "revenue").all()
    assert (rows.growth_source[income] == "income").all()
    # stars: the top of the tail by growth, at least the 80th percentile, at most 10 % of it
    tail_rows = rows[rows.pareto_segment == "tail"]
    assert (stars.growth_percentile >= parameters["rising_star_min_growth_percentile"]).all()
    assert len(stars) <= parameters["rising_star_max_count_share"] * len(tail_rows)
    others = tail_rows[~tail_rows.is_rising_star]
    assert stars.growth_percentile.min() >= others.growth_percentile.max()
    assert (stars.tail_growth_rank.sort_values().to_numpy() == range(1, len(stars) + 1)).all()


def test_project_partner_fit(warehouse):
    home, _ = warehouse
    fit = query(home, "select * from marts.project_partner_fit")
    assert len(fit) > 0
    assert fit.groupby("project_code").size().max() <= 20
    assert set(fit.project_status) <= {"储备", "在建"}
    ranks = fit.groupby("project_code")["fit_rank"].agg(["min", "max", "size"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["size"]).all()
    ordered = fit.sort_values(["project_code", "fit_rank"])
    assert (ordered.groupby("project_code")["fit_score"].diff().dropna() <= 0).all()
    for part in ("capacity_fit", "tolerance_fit", "influence_fit", "track_record_fit"):
        assert fit[part].between(0, 1).all(), part
    assert fit.fit_explanation.str.startswith("第").all()
    tiers = query(home, "select client_key, profile_code, guardrail_code from marts.client_tiers "
                        "where period_date = date '2026-01-31'")
    joined = fit.merge(tiers, on=["client_key", "profile_code"])
    assert len(joined) == len(fit)
    assert (joined.guardrail_code == "none").all()  # hard filters: registry, credit floor


def test_credit_exposure_alerts(warehouse):
    home, _ = warehouse
    alerts = query(home, "select * from marts.credit_exposure_alerts")
    assert len(alerts) > 0
    expected = np.maximum(alerts.credit_limit_amount.fillna(0).astype(float),
                          alerts.outstanding_balance_amount.fillna(0).astype(float)) \
        - alerts.credit_cap_amount.astype(float)
    assert np.allclose(alerts.excess_amount.astype(float), expected)
    assert (alerts.excess_amount > 0).all()
    policy = query(home, "select tier_code, credit_cap_amount from seeds.tiering_tier_policy")
    caps = alerts.merge(policy, on="tier_code", suffixes=("", "_policy"))
    assert (caps.credit_cap_amount == caps.credit_cap_amount_policy).all()


def test_risk_model_run_recorded(warehouse):
    home, run = warehouse
    runs = query(home, "select * from ml.risk_model_runs")
    assert run["model_version"] in set(runs.model_version)
    scores = query(home, "select count(*) as n, count(distinct period_date) as p "
                         "from ml.client_pd_scores")
    assert scores["p"].item() == MONTHS
    card = home / "models" / run["model_version"] / "card.json"
    assert card.exists()


def test_income_and_department_features_recomputed(warehouse, tmp_path):
    """The fee-income window and the departments seen, recomputed in pandas from the staging
    receipts and the cross-reference: every client and period, as the features model gives
    them (two aggregation steps per month there, a distinct count here). The simulation never
    delivers a month of reversals alone, so a copy of the warehouse gets some (a month with
    receipts but no positive one is not an active month) and rebuilds the features."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(warehouse[0] / "warehouse.duckdb", home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        reversed_months = con.execute("""
            update staging.stg_finance__receipts
            set receipt_amount = -abs(receipt_amount)
            where (customer_code, date_trunc('month', receipt_date)) in (
                select (customer_code, month) from (
                    select customer_code, date_trunc('month', receipt_date) as month,
                        row_number() over (order by customer_code, month) as month_number
                    from staging.stg_finance__receipts
                    where receipt_date is not null
                    group by customer_code, date_trunc('month', receipt_date)
                ) as months
                where month_number % 7 = 0)""").fetchone()[0]
    assert reversed_months > 50
    dbt(home, "run", "--full-refresh", "--select", "int_tiering_client_features_built")
    # a new home starts from the last parse (tests/dbt_cli.py): no 15-20 s parse of the project
    assert "Unable to do partial parsing" not in (home / "logs" / "dbt.log").read_text("utf-8")
    features = query(home, """
        select client_key, period_date, department_count, income_12m_amount,
            income_prior_12m_amount, income_6m_amount, active_months_12m, active_months_24m,
            receipt_count_12m, months_since_last_receipt, months_since_first_receipt_24m
        from intermediate.int_tiering_client_features_built""")
    xref = query(home, "select client_key, department, entity, record_id, first_seen_date "
                       "from marts.client_source_xref")
    receipts = query(home, """
        select customer_code, receipt_date, receipt_amount, first_extract_date
        from staging.stg_finance__receipts
        where receipt_date is not null and receipt_amount is not null""")
    features["period_date"] = pd.to_datetime(features["period_date"])
    periods = pd.DataFrame({"period_date": features["period_date"].unique()})

    firsts = xref.groupby(["client_key", "department"], as_index=False)["first_seen_date"].min()
    seen = features[["client_key", "period_date"]].merge(firsts, on="client_key")
    seen = seen[pd.to_datetime(seen["first_seen_date"]) <= seen["period_date"]]
    departments = seen.groupby(["client_key", "period_date"]).size().rename("expected")
    got = features.set_index(["client_key", "period_date"])["department_count"]
    compared = got.to_frame().join(departments, how="left").fillna({"expected": 0})
    assert (compared["department_count"] == compared["expected"]).all(), \
        compared[compared["department_count"] != compared["expected"]].head()

    finance = xref[(xref["department"] == "finance") & (xref["entity"] == "customers")]
    windowed = (receipts.merge(finance, left_on="customer_code", right_on="record_id")
                .merge(periods, how="cross"))
    receipt_date = pd.to_datetime(windowed["receipt_date"])
    windowed["months_before"] = ((windowed["period_date"].dt.year - receipt_date.dt.year) * 12
                                 + windowed["period_date"].dt.month - receipt_date.dt.month)
    windowed = windowed[(receipt_date <= windowed["period_date"])
                        & (pd.to_datetime(windowed["first_extract_date"])
                           <= windowed["period_date"])
                        & (windowed["months_before"] < 24)]
    amount = windowed["receipt_amount"].astype(float)
    months = windowed["months_before"]
    positive = amount > 0
    windowed = windowed.assign(
        income_12m=amount.where(months < 12, 0.0),
        income_prior_12m=amount.where(months >= 12, 0.0),
        income_6m=amount.where(months < 6, 0.0),
        active_12m=months.where(positive & (months < 12)),
        active_24m=months.where(positive),
        count_12m=(positive & (months < 12)).astype(int))
    expected = windowed.groupby(["client_key", "period_date"]).agg(
        income_12m_amount=("income_12m", "sum"),
        income_prior_12m_amount=("income_prior_12m", "sum"),
        income_6m_amount=("income_6m", "sum"),
        active_months_12m=("active_12m", "nunique"),
        active_months_24m=("active_24m", "nunique"),
        receipt_count_12m=("count_12m", "sum"),
        months_since_last_receipt=("active_24m", "min"),
        months_since_first_receipt_24m=("active_24m", "max"))
    assert len(expected) > 100, "the fixture should hold receipts for many client periods"
    actual = features.set_index(["client_key", "period_date"]).loc[expected.index]
    for column in expected.columns:
        left = actual[column].astype(float)
        right = expected[column].astype(float)
        same = np.isclose(left, right, atol=0.005) | (left.isna() & right.isna())
        assert same.all(), (column, actual.loc[~same, column].head(), right[~same].head())
    # client periods without a receipt in the window: no income and no active month
    others = features.set_index(["client_key", "period_date"]).drop(expected.index)
    assert (others["active_months_24m"] == 0).all()
    assert (others["income_12m_amount"] == 0).all()


def test_rating_window_features_recomputed(warehouse):
    """The internal rating's mean and worst rank over the credit profiles of the 6 months up to
    each period (the behaviour window), recomputed in pandas from staging, the cross-reference
    and the rating seed, for every client and period the features model holds."""
    home, _ = warehouse
    features = query(home, """
        select client_key, period_date, internal_rating_rank, internal_rating_rank_avg_6m,
            internal_rating_rank_worst_6m
        from intermediate.int_tiering_client_features_built""")
    profiles = query(home, """
        select xref.client_key, profiles.extract_date, priors.rating_rank
        from staging.stg_risk__credit_profiles as profiles
        inner join marts.client_source_xref as xref
            on xref.department = 'risk' and xref.entity = 'credit_profiles'
            and xref.record_id = profiles.risk_client_no
        left join seeds.tiering_rating_pd_prior as priors
            on profiles.internal_rating = priors.internal_rating""")
    for frame, column in ((features, "period_date"), (profiles, "extract_date")):
        frame[column] = pd.to_datetime(frame[column])
    windowed = profiles.merge(features[["client_key", "period_date"]], on="client_key")
    windowed["months_before"] = (
        (windowed["period_date"].dt.year - windowed["extract_date"].dt.year) * 12
        + windowed["period_date"].dt.month - windowed["extract_date"].dt.month)
    windowed = windowed[(windowed["extract_date"] <= windowed["period_date"])
                        & (windowed["months_before"] < 6)]
    expected = windowed.groupby(["client_key", "period_date"])["rating_rank"].agg(
        ["mean", "max"])
    got = features.set_index(["client_key", "period_date"])
    compared = got.join(expected, how="left")
    assert compared["internal_rating_rank_avg_6m"].notna().sum() > 100
    assert np.allclose(compared["internal_rating_rank_avg_6m"].astype(float),
                       compared["mean"].astype(float), equal_nan=True)
    assert np.allclose(compared["internal_rating_rank_worst_6m"].astype(float),
                       compared["max"].astype(float), equal_nan=True)
    # a rating now is within the window's range
    rated = compared.dropna(subset=["internal_rating_rank"])
    assert (rated["internal_rating_rank"] <= rated["internal_rating_rank_worst_6m"]).all()
    assert (rated["internal_rating_rank_worst_6m"] > rated["internal_rating_rank_avg_6m"]).any()


def test_incremental_month_equals_full_build(warehouse):
    """Rebuilding an earlier month, as of that month (staging then reads only deliveries up to
    it), gives exactly the rows the full build made with three more months delivered: neither
    the features nor the tiers of a period look ahead."""
    home, _ = warehouse
    month = date(2025, 10, 31)
    sql = (f"select * from marts.client_tiers where period_date = date '{month}' "
           "order by client_key, profile_code")
    features_sql = ("select * from intermediate.int_tiering_client_features_built "
                    f"where period_date = date '{month}' order by client_key")
    features_before = query(home, features_sql)
    before = query(home, sql)
    others_before = query(home, "select period_date, count(*) as n from marts.client_tiers "
                                f"where period_date <> date '{month}' group by 1 order by 1")
    dbt(home, "run", "--select", "int_tiering_client_features_built",
        "int_tiering_dimensions_scored", "client_tiers", as_of=month)
    after = query(home, sql)
    pd.testing.assert_frame_equal(features_before, query(home, features_sql))
    others_after = query(home, "select period_date, count(*) as n from marts.client_tiers "
                               f"where period_date <> date '{month}' group by 1 order by 1")
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(others_before, others_after)


HISTORY_MODELS = ("intermediate.int_tiering_client_features_built",
                  "intermediate.int_tiering_dimensions_scored")


def differing_rows(left: Path, right: Path, table: str,
                   keys: tuple[str, ...] = ("client_key", "period_date")) -> int:
    """Rows of `table` (one row per client per period) missing from either warehouse or with a
    column that differs; doubles may differ by 1e-9 relative (sums of doubles are not
    associative, and DuckDB's parallel aggregates add them in no fixed order)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        columns = con.execute(
            f"select column_name, column_type from (describe l.{table})").fetchall()
        same = [f"abs(l.{name} - r.{name}) <= 1e-9 * greatest(1, abs(l.{name}))"
                f" or (l.{name} is null and r.{name} is null)"
                if kind == "DOUBLE" else f"l.{name} is not distinct from r.{name}"
                for name, kind in columns]
        return con.execute(f"""
            select count(*) from l.{table} as l
            full join r.{table} as r
                on {" and ".join(f"l.{key} = r.{key}" for key in keys)}
            where l.client_key is null or r.client_key is null
                or not ({" and ".join(f"({check})" for check in same)})""").fetchone()[0]


def batch_cursors(home: Path) -> list[str]:
    """The periods after which the batches dbt ran (its debug log of `home`) started, and the
    periods after which it looked for more."""
    log = (home / "logs" / "dbt.log").read_text(encoding="utf-8")
    marker = r"cast\('(\d{4}-\d{2}-\d{2})' as date\) /\* tiering_period_cursor \*/"
    return sorted(set(re.findall(marker, log)))


def test_history_built_in_period_batches_equals_one_statement(warehouse, tmp_path):
    """The tier history built two periods per statement (a full refresh, then an incremental run
    adding five periods) has exactly the rows of one statement over every period."""
    home, _ = warehouse
    homes = {}
    for name in ("one_statement", "batches"):
        homes[name] = tmp_path / name
        homes[name].mkdir()
        shutil.copyfile(home / "warehouse.duckdb", homes[name] / "warehouse.duckdb")
    models = ("int_tiering_client_features_built", "int_tiering_dimensions_scored")
    dbt(homes["one_statement"], "run", "--full-refresh", "--select", *models,
        periods_per_statement=0)
    dbt(homes["batches"], "run", "--full-refresh", "--select", *models, periods_per_statement=2)
    periods = query(homes["batches"], "select distinct period_date from "
                    "intermediate.int_tiering_client_features_built order by 1").period_date
    assert len(periods) == MONTHS
    # two periods a statement: the first batch after no period, the next ones after the 2nd,
    # 4th, ... period; then no period after the last
    days = [f"{period:%Y-%m-%d}" for period in periods]
    assert batch_cursors(homes["batches"]) == ["1900-01-01", *days[1::2], days[-1]]
    for table in HISTORY_MODELS:
        assert differing_rows(homes["one_statement"] / "warehouse.duckdb",
                              homes["batches"] / "warehouse.duckdb", table) == 0, table

    # an incremental run five periods behind builds them in three statements
    last_kept = periods.iloc[-6]
    with duckdb.connect(str(homes["batches"] / "warehouse.duckdb")) as con:
        for table in HISTORY_MODELS:
            con.execute(f"delete from {table} where period_date > date '{last_kept:%Y-%m-%d}'")
    dbt(homes["batches"], "run", "--select", *models, periods_per_statement=2)
    for table in HISTORY_MODELS:
        assert differing_rows(homes["one_statement"] / "warehouse.duckdb",
                              homes["batches"] / "warehouse.duckdb", table) == 0, table


def test_tiers_built_in_client_batches_equal_one_statement(warehouse, tmp_path):
    """client_tiers built in client batches (hash buckets of the clients, one statement each) has
    exactly the rows of one statement: on a full refresh, and on an incremental run five periods
    behind, whose batches continue from the stored period before."""
    home, _ = warehouse
    homes = {}
    for name in ("one_statement", "batches"):
        homes[name] = tmp_path / name
        homes[name].mkdir()
        shutil.copyfile(home / "warehouse.duckdb", homes[name] / "warehouse.duckdb")
    table, keys = "marts.client_tiers", ("client_key", "profile_code", "period_date")
    rows = query(home, f"select count(*) as n from {table}").n[0]
    dbt(homes["one_statement"], "run", "--full-refresh", "--select", "client_tiers",
        tier_rows_per_statement=0)
    dbt(homes["batches"], "run", "--full-refresh", "--select", "client_tiers",
        tier_rows_per_statement=-(-rows // 4))
    assert client_batches_run(homes["batches"]) == [2, 3, 4]
    assert query(homes["batches"], f"select count(*) as n from {table}").n[0] == rows
    assert differing_rows(homes["one_statement"] / "warehouse.duckdb",
                          homes["batches"] / "warehouse.duckdb", table, keys) == 0

    periods = query(home, f"select distinct period_date from {table} order by 1").period_date
    with duckdb.connect(str(homes["batches"] / "warehouse.duckdb")) as con:
        con.execute(f"delete from {table} where period_date > date '{periods.iloc[-6]:%Y-%m-%d}'")
    (homes["batches"] / "logs" / "dbt.log").unlink()
    dbt(homes["batches"], "run", "--select", "client_tiers", tier_rows_per_statement=-(-rows // 8))
    assert client_batches_run(homes["batches"]) == [2, 3]
    assert differing_rows(homes["one_statement"] / "warehouse.duckdb",
                          homes["batches"] / "warehouse.duckdb", table, keys) == 0


def client_batches_run(home: Path) -> list[int]:
    """The client batches after the first that dbt's log of `home` says it ran."""
    log = (home / "logs" / "dbt.log").read_text(encoding="utf-8")
    return sorted({int(batch) for batch in re.findall(r"client batch (\d+) of \d+", log)})


def test_tier_distribution_matches_the_tier_history(warehouse):
    """tier_distribution counts exactly the tier history's rows per period, profile and tier,
    with every tier of the policy present and shares summing to one."""
    home, _ = warehouse
    distribution = query(home, "select * from marts.tier_distribution")
    grouped = query(home, "select period_date, profile_code, tier_code, count(*) as n "
                          "from marts.client_tiers group by all")
    merged = distribution.merge(grouped, how="left",
                                on=["period_date", "profile_code", "tier_code"])
    assert (merged.client_count == merged.n.fillna(0)).all()
    assert merged.client_count.sum() == grouped.n.sum()
    cells = distribution.groupby(["period_date", "profile_code"])
    assert (cells.tier_code.nunique() == 5).all()
    assert np.allclose(cells.client_share.sum(), 1.0)
