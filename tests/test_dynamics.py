"""Tier dynamics on real builds of a small simulation (docs/dynamics.md): the stable tier history
and the migration matrices built month by month equal a full refresh and a rebuilt month equals
its first build; governed overrides win within their validity, lapse on time and are refused
without an independent approver; the review triggers; migration arithmetic; the monitoring
metrics; the dim_clients snapshot.

One warehouse is built once (simulate → ingest → dbt upstream of the risk model → risk model →
dbt after it). Overrides need client keys of that warehouse, so the dbt runs with overrides use
a copy of the dbt project whose tiering_overrides seed is written by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dbt_cli import run_dbt
from project_copy import copy_project

from tiering.config import PROJECT_DIR, Paths

CLIENTS = 400
MONTHS = 14
START = "2024-11"
SEED = 5
MONTH_ENDS = [d.date() for d in pd.date_range("2024-11-30", periods=MONTHS, freq="ME")]
LAST = MONTH_ENDS[-1]  # 2025-12-31
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
OVERRIDE_COLUMNS = "override_id,client_key,tier_code,reason,approver,valid_from,valid_to\n"


def dbt(project: Path, home: Path, *args: str, as_of: date = LAST, extra_vars: str = "",
        check: bool = True) -> subprocess.CompletedProcess:
    # the as-of date as `tiering` gives it (macros/as_of_date.sql): a new month reuses the parse
    env = {**os.environ, "TIERING_AS_OF_DATE": as_of.isoformat()}
    result = run_dbt(home, *args, "--vars", f"{{{extra_vars.lstrip(', ')}}}", project=project,
                     target_path=home / f"target-{project.name}", env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}")
    return result


def query(home: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).df()


def execute(home: Path, sql: str) -> None:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(sql)


def tiers_table(home: Path, table: str = "marts.client_tiers") -> pd.DataFrame:
    return query(home, f"select * from {table} order by period_date, client_key, profile_code"
                 ).reset_index(drop=True)


def migrations_table(home: Path) -> pd.DataFrame:
    return query(home, "select * from marts.tier_migrations order by period_date, profile_code, "
                       "horizon_months, from_tier_code, to_tier_code").reset_index(drop=True)


def performance_table(home: Path) -> pd.DataFrame:
    return query(home, "select * from marts.tier_performance order by period_date, profile_code"
                 ).reset_index(drop=True)


def performance_by_tier_table(home: Path) -> pd.DataFrame:
    return query(home, "select * from marts.tier_performance_by_tier "
                       "order by period_date, profile_code, tier_code").reset_index(drop=True)


def write_overrides(project: Path, rows: list[tuple]) -> None:
    lines = [",".join("" if v is None else str(v) for v in row) for row in rows]
    (project / "seeds" / "dynamics" / "tiering_overrides.csv").write_text(
        OVERRIDE_COLUMNS + "".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The warehouse as of LAST with three valid overrides (one lapsing mid-history, one valid
    at LAST and expiring soon, one on a key identity merged away), tiers full-refreshed."""
    from tiering.ingest import ingest
    from tiering.risk_model import ModelSettings, train_and_score
    from tiering.simulate import simulate

    home = tmp_path_factory.mktemp("dyn_home")
    simulate(home / "landing", home / "truth", CLIENTS, MONTHS, START, SEED)
    ingest(Paths(home=home))
    # the pipeline's order: dbt upstream of the risk model, the model, dbt after it
    # (the dbt unit tests run in the suites of their areas: staging, identity, tiering)
    dbt(PROJECT_DIR, home, "build", "--exclude", "tag:after_risk_model", *NO_UNIT_TESTS)
    train_and_score(home / "warehouse.duckdb", LAST, home / "models",
                    ModelSettings(min_train_periods=2, min_train_defaults=5))
    dbt(PROJECT_DIR, home, "build", "--select", "tag:after_risk_model", *NO_UNIT_TESTS)

    clients = query(home, """
        select dim_clients.client_key
        from marts.dim_clients as dim_clients
        inner join marts.client_tiers as tiers
            on tiers.client_key = dim_clients.client_key and tiers.profile_code = 'default'
        where dim_clients.account_manager is not null
        group by dim_clients.client_key
        having count(distinct tiers.period_date) = ?
            and max(case when tiers.period_date = ? then tiers.tier_rank end) >= 4
        order by dim_clients.client_key""", [MONTHS, LAST])
    lapsing, expiring, merged_into = clients.client_key[:3]
    # A key identity retired: its record now sits under `merged_into` (client_xref_history).
    record = query(home, "select * from marts.client_source_xref where client_key = ? limit 1",
                   [merged_into])
    execute(home, f"""
        insert into marts.client_xref_history (as_of_date, department, entity, record_id,
            client_key, match_rule, match_score, recorded_at)
        values (date '{MONTH_ENDS[-4]}', '{record.department[0]}', '{record.entity[0]}',
            '{record.record_id[0]}', 'CRETIREDKEY01', 'test', 1.0, current_timestamp)""")
    overrides = [
        ("OV-LAPSE", lapsing, "S", "董事会特批（测试）", "授信审批委员会", "2025-07-01",
         "2025-09-30"),
        ("OV-EXPIRE", expiring, "A", "战略合作（测试）", "风险管理部总经理", "2025-10-01",
         (LAST + pd.Timedelta(days=10)).isoformat()),
        ("OV-MERGED", "CRETIREDKEY01", "S", "合并前批准（测试）", "授信审批委员会",
         "2025-09-01", "2026-02-28"),
    ]
    project = copy_project(home / "project")
    write_overrides(project, overrides)
    dbt(project, home, "build", "--full-refresh", "--select", "tiering_overrides+",
        "int_dynamics_client_keys_mapped+", *NO_UNIT_TESTS)
    return {"home": home, "project": project, "lapsing": lapsing, "expiring": expiring,
            "merged_into": merged_into, "full": tiers_table(home)}


def distribution_table(home: Path) -> pd.DataFrame:
    return query(home, "select * from marts.tier_distribution "
                       "order by period_date, profile_code, tier_code")


def test_month_by_month_equals_full_refresh_and_rebuild_equals_first_build(built):
    home, project, full = built["home"], built["project"], built["full"]
    full_migrations, full_performance = migrations_table(home), performance_table(home)
    full_distribution = distribution_table(home)
    full_by_tier = performance_by_tier_table(home)
    incremental = ["client_tiers", "tier_migrations", "int_dynamics_cohort_tiers",
                   "int_dynamics_cohort_outcomes",
                   "tier_performance_by_tier", "tier_performance", "tier_distribution"]
    start = MONTH_ENDS.index(date(2025, 9, 30))  # OV-LAPSE's last month: it lapses on the way
    dbt(project, home, "run", "--full-refresh", "--select", *incremental,
        as_of=MONTH_ENDS[start])
    assert query(home, "select max(period_date) as p from marts.client_tiers").p[0].date() == (
        MONTH_ENDS[start])
    assert migrations_table(home).period_date.max().date() == MONTH_ENDS[start]
    for month in MONTH_ENDS[start + 1:]:
        dbt(project, home, "run", "--select", *incremental, as_of=month)
    month_by_month = tiers_table(home)
    pd.testing.assert_frame_equal(month_by_month, full)
    pd.testing.assert_frame_equal(migrations_table(home), full_migrations)
    pd.testing.assert_frame_equal(performance_table(home), full_performance)
    pd.testing.assert_frame_equal(performance_by_tier_table(home), full_by_tier)
    pd.testing.assert_frame_equal(distribution_table(home), full_distribution)

    rebuilt = MONTH_ENDS[-3]
    dbt(project, home, "run", "--select", *incremental, as_of=rebuilt)
    pd.testing.assert_frame_equal(tiers_table(home), full)
    pd.testing.assert_frame_equal(migrations_table(home), full_migrations)
    pd.testing.assert_frame_equal(distribution_table(home), full_distribution)
    # the monitoring as of the past month (its outcome windows cut there), then back
    performance = performance_table(home)
    assert performance[performance.period_date == pd.Timestamp(rebuilt)
                       ].outcome_months_observed.max() == 0
    dbt(project, home, "run", "--select", *incremental, as_of=LAST)
    pd.testing.assert_frame_equal(performance_table(home), full_performance)
    pd.testing.assert_frame_equal(performance_by_tier_table(home), full_by_tier)
    # the stability rule is doing something on this history
    default = full[full.profile_code == "default"]
    assert default.is_stability_holding.any()


def test_the_rule_switched_off_gives_the_unstabilised_tier(built):
    """(Leaves client_tiers without the rule: later tests read built["full"] and the marts.)"""
    home, project = built["home"], built["project"]
    no_rule = ", tiering_dynamics_parameters: {stability_margin_points: 0, " \
              "stability_persistence_periods: 1}"
    dbt(project, home, "run", "--full-refresh", "--select", "client_tiers", extra_vars=no_rule)
    tiers = tiers_table(home)
    plain = tiers[~tiers.is_override]
    assert (plain.rule_tier_code == plain.unstabilised_tier_code).all()
    assert not tiers.is_stability_holding.any()
    assert (built["full"].is_stability_holding).any()


def test_stable_tier_moves_only_by_margin_or_persistence(built):
    """Every change of the stable band tier is explained: the composite crossed the boundary of
    the previous stable tier by the margin, or stayed across it for the persistence periods;
    and a composite beyond a boundary by the margin is never held back."""
    full = built["full"]
    policy = query(built["home"], "select tier_code, tier_rank, min_score, max_score "
                                  "from seeds.tiering_tier_policy")
    params = query(built["home"], "select * from seeds.tiering_dynamics_parameters")
    value = dict(zip(params.parameter_name, params.parameter_value))
    margin, persistence = value["stability_margin_points"], int(
        value["stability_persistence_periods"])
    bounds = policy.set_index("tier_code")
    t = full[full.profile_code == "default"].sort_values(["client_key", "period_date"])
    checked = 0
    for _, rows in t.groupby("client_key"):
        rows = rows.reset_index(drop=True)
        months = pd.to_datetime(rows.period_date).dt.to_period("M")
        for i in range(1, len(rows)):
            if (months[i] - months[i - 1]).n != 1:
                continue  # a gap: the rule starts again from the band
            before, now = rows.stable_band_tier_code[i - 1], rows.stable_band_tier_code[i]
            low, high = bounds.min_score[before], bounds.max_score[before]
            composite = rows.composite_score[i]
            window = rows.composite_score[max(0, i - persistence + 1): i + 1]
            if now != before:
                checked += 1
                up = bounds.tier_rank[now] < bounds.tier_rank[before]
                crossed = composite >= high + margin if up else composite < low - margin
                stayed = len(window) == persistence and (
                    (window >= high).all() if up else (window < low).all())
                assert crossed or stayed, rows.iloc[max(0, i - persistence): i + 1]
            else:
                assert low - margin <= composite < high + margin or high > 100
    assert checked > 0


def test_guardrail_downgrades_apply_at_once(built):
    full = built["full"]
    forced = full[full.guardrail_code.isin(["registry_revoked", "live_default"])
                  & ~full.is_override]
    assert len(forced) > 0
    assert (forced.tier_code == "D").all()
    capped = full[full.guardrail_code.isin(["credit_floor", "delinquency"]) & ~full.is_override]
    assert capped.tier_code.isin(["C", "D"]).all()
    # seriously past due clients occur in this history, so the check above is not vacuous
    assert (full.guardrail_code == "delinquency").any()


def test_override_wins_within_validity_is_flagged_and_lapses(built):
    full = built["full"]
    mine = full[(full.client_key == built["lapsing"])].copy()
    mine["period_date"] = pd.to_datetime(mine.period_date).dt.date
    inside = mine[(mine.period_date >= date(2025, 7, 31))
                  & (mine.period_date <= date(2025, 9, 30))]
    outside = mine[~mine.index.isin(inside.index)]
    assert len(inside) == 3 * mine.profile_code.nunique()
    assert (inside.tier_code == "S").all() and inside.is_override.all()
    assert (inside.override_id == "OV-LAPSE").all()
    assert (inside.override_approver == "授信审批委员会").all()
    assert not outside.is_override.any()
    assert (outside.tier_code == outside.rule_tier_code).all()
    lapsed = mine[mine.period_date == date(2025, 10, 31)]
    assert not lapsed.is_override.any()
    # the retired key's override is not applied to anyone
    assert not (full.override_id == "OV-MERGED").any()
    overrides = query(built["home"], "select * from marts.tier_overrides order by override_id")
    status = dict(zip(overrides.override_id, overrides.override_status))
    assert status == {"OV-EXPIRE": "active", "OV-LAPSE": "expired", "OV-MERGED": "key_retired"}
    merged = overrides[overrides.override_id == "OV-MERGED"]
    assert merged.current_client_key.item() == built["merged_into"]


def test_override_rate_per_period(built):
    performance = query(built["home"], "select * from marts.tier_performance "
                                       "where profile_code = 'default' order by period_date")
    performance["period_date"] = pd.to_datetime(performance.period_date).dt.date
    rate = dict(zip(performance.period_date, performance.override_count))
    assert rate[date(2025, 2, 28)] == 0 and rate[date(2025, 8, 31)] == 1
    assert rate[LAST] == 1  # OV-EXPIRE
    row = performance[performance.period_date == LAST]
    assert row.override_rate.item() == pytest.approx(1 / row.client_count.item())


def test_override_without_approver_or_by_own_account_manager_is_refused(built, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built["home"], home, ignore=shutil.ignore_patterns("target-*", "logs"))
    project = copy_project(tmp_path / "refusing")
    manager = query(home, "select account_manager from marts.dim_clients where client_key = ?",
                    [built["lapsing"]]).account_manager.item()
    write_overrides(project, [
        ("OV-NOBODY", built["lapsing"], "S", "无人审批", None, "2025-10-01", "2025-12-31"),
        ("OV-OWN-AM", built["lapsing"], "S", "客户经理自批", manager, "2025-10-01", "2025-12-31"),
        ("OV-OK", built["expiring"], "B", "正常审批", "授信审批委员会", "2025-10-01", "2025-12-31"),
    ])
    result = dbt(project, home, "build", "--select", "tiering_overrides",
                 "int_dynamics_overrides_governed", check=False)
    assert result.returncode != 0
    assert "tier_override_refused_no_approver_or_approved_by_own_account_manager" in (
        result.stdout)
    assert "FAIL 2" in result.stdout
    governed = query(home, "select * from intermediate.int_dynamics_overrides_governed "
                           "order by override_id")
    refusal = {key: None if pd.isna(code) else code
               for key, code in zip(governed.override_id, governed.refusal_code)}
    assert refusal == {"OV-NOBODY": "missing_approver", "OV-OK": None,
                       "OV-OWN-AM": "approver_is_account_manager"}
    message = governed.set_index("override_id").refusal_message["OV-OWN-AM"]
    assert "OV-OWN-AM" in message and manager in message and "account manager" in message
    assert governed.set_index("override_id").is_applicable.to_dict() == {
        "OV-NOBODY": False, "OV-OK": True, "OV-OWN-AM": False}


def test_review_triggers(built):
    home = built["home"]
    queue = query(home, "select * from marts.tier_review_queue")
    queue["trigger_date"] = pd.to_datetime(queue.trigger_date).dt.date
    queue["due_date"] = pd.to_datetime(queue.due_date).dt.date
    by = {code: set(rows.client_key) for code, rows in queue.groupby("trigger_code")}
    tiers = built["full"]
    tiers = tiers[tiers.profile_code == "default"].copy()
    tiers["period_date"] = pd.to_datetime(tiers.period_date).dt.date
    now = tiers[tiers.period_date == LAST].set_index("client_key")
    before = tiers[tiers.period_date == MONTH_ENDS[-2]].set_index("client_key")
    both = now.join(before, rsuffix="_before", how="inner")

    changed = set(both.index[both.tier_code != both.tier_code_before])
    assert changed and by.get("tier_change", set()) == changed
    moved = set(both.index[(both.composite_score - both.composite_score_before).abs() >= 10])
    assert by.get("composite_change", set()) == moved

    # periodic: the months the current tier has been held are a positive multiple of the tier's
    # review frequency (D: every month)
    policy = query(home, "select tier_code, review_frequency_months from seeds.tiering_tier_policy")
    frequency = dict(zip(policy.tier_code, policy.review_frequency_months))
    due = set()
    for client, rows in tiers.sort_values("period_date").groupby("client_key"):
        rows = rows.reset_index(drop=True)
        if rows.period_date.iloc[-1] != LAST:
            continue
        since = len(rows) - 1
        while since > 0 and not pd.isna(rows.previous_tier_code[since]) and (
                rows.previous_tier_code[since] == rows.tier_code[since]):
            since -= 1
        held = (LAST.year - rows.period_date[since].year) * 12 + (
            LAST.month - rows.period_date[since].month)
        if held > 0 and held % frequency[rows.tier_code.iloc[-1]] == 0:
            due.add(client)
    assert due and by["periodic"] == due

    # default events first delivered in the last period
    events = query(home, f"""
        select distinct xref.client_key
        from staging.stg_risk__risk_events as events
        inner join marts.client_source_xref as xref
            on xref.department = 'risk' and xref.entity = 'credit_profiles'
            and xref.record_id = events.risk_client_no
        where events.event_type = '违约' and events.first_extract_date > date '{MONTH_ENDS[-2]}'
            and events.first_extract_date <= date '{LAST}'""")
    assert by.get("default_event", set()) == set(events.client_key)

    features = query(home, f"""
        select now.client_key
        from intermediate.int_tiering_client_features_built as now
        left join intermediate.int_tiering_client_features_built as before
            on before.client_key = now.client_key and before.period_date = date '{MONTH_ENDS[-2]}'
        where now.period_date = date '{LAST}' and now.max_overdue_days > 90
            and coalesce(before.max_overdue_days, 0) <= 90""")
    assert by.get("overdue", set()) == set(features.client_key)

    expiring = queue[queue.trigger_code == "override_expiring"]
    assert set(expiring.client_key) == {built["expiring"]}
    assert expiring.due_date.item() == LAST + pd.Timedelta(days=10)
    retired = queue[queue.trigger_code == "override_key_retired"]
    assert set(retired.client_key) == {built["merged_into"]}
    assert "CRETIREDKEY01" in retired.trigger_detail.item()

    triggers = query(home, "select trigger_code, due_in_days from seeds.tiering_review_triggers")
    days = dict(zip(triggers.trigger_code, triggers.due_in_days))
    plain = queue[queue.trigger_code != "override_expiring"]
    assert all((row.due_date - row.trigger_date).days == days[row.trigger_code]
               for row in plain.itertuples())
    assert not queue.duplicated(["client_key", "trigger_code"]).any()


def test_migration_rows_sum_to_the_from_tier_count(built):
    home = built["home"]
    migrations = query(home, "select * from marts.tier_migrations")
    tiers = built["full"]
    counts = tiers.groupby(["profile_code", "period_date", "tier_code"]).size()
    sums = migrations.groupby(["profile_code", "horizon_months", "from_period_date",
                               "from_tier_code"]).agg(total=("client_count", "sum"),
                                                      stated=("from_tier_client_count", "max"),
                                                      rates=("migration_rate", "sum"))
    assert len(sums) > 0 and set(migrations.horizon_months) == {1, 12}
    for (profile, _, period, tier), row in sums.iterrows():
        expected = counts.get((profile, period, tier), 0)
        assert row.total == expected == row.stated
        if expected:
            assert row.rates == pytest.approx(1.0)
    # the diagonal of one consecutive pair, counted independently
    default = tiers[tiers.profile_code == "default"]
    a = default[default.period_date == pd.Timestamp(MONTH_ENDS[-2])].set_index("client_key")
    b = default[default.period_date == pd.Timestamp(LAST)].set_index("client_key")
    joined = a.join(b, rsuffix="_later", how="left")
    stayed = joined[joined.tier_code == joined.tier_code_later].groupby("tier_code").size()
    diagonal = migrations[(migrations.profile_code == "default")
                          & (migrations.horizon_months == 1)
                          & (migrations.period_date == pd.Timestamp(LAST))
                          & migrations.is_same_tier].set_index("from_tier_code").client_count
    assert (diagonal.reindex(stayed.index) == stayed).all()
    left = joined.tier_code_later.isna().sum()
    assert migrations[(migrations.profile_code == "default") & (migrations.horizon_months == 1)
                      & (migrations.period_date == pd.Timestamp(LAST))
                      & (migrations.to_tier_code == "NR")].client_count.sum() == left
    # every cell of every matrix, both horizons, every profile, counted independently
    assert_migrations_counted(migrations, tiers)
    # clients that leave the history (to-tier NR): three clients' rows of the last period
    # taken out of client_tiers (as the earlier tests left it), the matrices rebuilt and counted
    # again, then the rows put back
    project, current = built["project"], tiers_table(home)
    last = current[(current.period_date == pd.Timestamp(LAST))
                   & (current.profile_code == "default")]
    leaving = tuple(last.client_key[:3])
    execute(home, f"""
        create table main.leaving_rows as select * from marts.client_tiers
        where period_date = date '{LAST}' and client_key in {leaving};
        delete from marts.client_tiers where period_date = date '{LAST}'
            and client_key in {leaving}""")
    try:
        dbt(project, home, "run", "--full-refresh", "--select", "tier_migrations")
        shorter = tiers_table(home)
        assert len(shorter) == len(current) - 3 * current.profile_code.nunique()
        rebuilt = query(home, "select * from marts.tier_migrations")
        assert rebuilt[(rebuilt.to_tier_code == "NR") & (rebuilt.horizon_months == 1)
                       ].client_count.sum() == 3 * current.profile_code.nunique()
        assert_migrations_counted(rebuilt, shorter)
    finally:
        execute(home, "insert into marts.client_tiers select * from main.leaving_rows; "
                      "drop table main.leaving_rows")
        dbt(project, home, "run", "--full-refresh", "--select", "tier_migrations")
    pd.testing.assert_frame_equal(tiers_table(home), current)
    assert_migrations_counted(query(home, "select * from marts.tier_migrations"), current)


def assert_migrations_counted(migrations: pd.DataFrame, tiers: pd.DataFrame) -> None:
    """Every non-zero cell of the migration matrices equals a count of the two periods' rows
    joined by client (the mart counts consecutive periods from previous_tier_code)."""
    months = sorted(pd.to_datetime(tiers.period_date).unique())
    tiers = tiers.assign(period_date=pd.to_datetime(tiers.period_date))
    expected = []
    for horizon in (1, 12):
        for earlier, later in zip(months, months[horizon:]):
            pair = tiers[tiers.period_date == earlier].merge(
                tiers[tiers.period_date == later][["client_key", "profile_code", "tier_code"]],
                on=["client_key", "profile_code"], how="left", suffixes=("", "_later"))
            pair["to_tier_code"] = pair.tier_code_later.fillna("NR")
            cells = pair.groupby(["profile_code", "tier_code", "to_tier_code"]).size()
            expected += [(profile, horizon, later, tier, to, count)
                         for (profile, tier, to), count in cells.items()]
    columns = ["profile_code", "horizon_months", "period_date", "from_tier_code",
               "to_tier_code", "client_count"]
    expected = pd.DataFrame(expected, columns=columns).sort_values(columns[:5])
    counted = migrations[migrations.client_count > 0][columns].assign(
        period_date=lambda frame: pd.to_datetime(frame.period_date)).sort_values(columns[:5])
    assert len(expected) > 0
    pd.testing.assert_frame_equal(counted.reset_index(drop=True).astype({"client_count": int}),
                                  expected.reset_index(drop=True).astype({"client_count": int}),
                                  check_dtype=False)


def test_monitoring_metrics(built):
    from sklearn.metrics import roc_auc_score

    home = built["home"]
    performance = query(home, "select * from marts.tier_performance where profile_code = "
                              "'default' order by period_date")
    performance["period_date"] = pd.to_datetime(performance.period_date).dt.date
    # outcome windows: complete only 12 months before the as-of date
    complete = dict(zip(performance.period_date, performance.is_outcome_window_complete))
    assert complete[MONTH_ENDS[0]] and complete[MONTH_ENDS[1]]
    assert not any(complete[m] for m in MONTH_ENDS[2:])
    assert performance.outcome_months_observed.iloc[-1] == 0
    assert pd.isna(performance.psi_composite.iloc[0])
    assert (performance.psi_composite.iloc[1:] >= 0).all()
    bands = performance.psi_band.iloc[1:]
    psi = performance.psi_composite.iloc[1:]
    assert (bands == np.where(psi < 0.10, "stable", np.where(psi < 0.25, "monitor",
                                                            "significant"))).all()
    # AUC and monotonicity of the first period, recomputed here
    labelled = query(home, f"""select cohort.*, outcomes.default_flag
        from intermediate.int_dynamics_cohort_tiers as cohort
        inner join intermediate.int_dynamics_cohort_outcomes as outcomes
            on cohort.client_key = outcomes.client_key
            and cohort.period_date = outcomes.period_date
        where cohort.profile_code = 'default' and cohort.period_date = date '{MONTH_ENDS[0]}'""")
    assert labelled.default_flag.sum() > 0
    first = performance.iloc[0]
    assert first.auc_composite == pytest.approx(
        roc_auc_score(1 - labelled.default_flag, labelled.composite_score))
    assert first.auc_credit == pytest.approx(
        roc_auc_score(1 - labelled.default_flag, labelled.credit_score))
    assert first.gini_composite == pytest.approx(2 * first.auc_composite - 1)
    rates = labelled.groupby("tier_rank").default_flag.mean().sort_index()
    assert first.is_default_rate_monotone == bool((rates.diff().dropna() >= 0).all())
    # defaults are the warehouse's own 违约 events, never the simulator's truth
    events = query(home, "select client_key, event_date from "
                         "intermediate.int_tiering_default_events_listed")
    window = events[(pd.to_datetime(events.event_date) > pd.Timestamp(MONTH_ENDS[0]))
                    & (pd.to_datetime(events.event_date) <= pd.Timestamp("2025-11-30"))]
    assert set(labelled.client_key[labelled.default_flag == 1]) <= set(window.client_key)
    # the tier change rates with and without the stability rule, recomputed from the tier rows
    # (each client's rows in period order; a change counts between consecutive months only)
    tiers = built["full"]
    rows = tiers[tiers.profile_code == "default"].sort_values(["client_key", "period_date"])
    by_client = rows.groupby("client_key")
    month = pd.to_datetime(rows.period_date).dt.to_period("M")
    consecutive = (month - by_client.period_date.shift().dt.to_period("M")).map(
        lambda gap: getattr(gap, "n", None)) == 1
    before = by_client.unstabilised_tier_code.shift()
    assert (rows.previous_unstabilised_tier_code[consecutive] == before[consecutive]).all()
    assert rows.previous_unstabilised_tier_code[~consecutive].isna().all()
    changed = (rows.unstabilised_tier_code != before)[consecutive]
    expected = changed.groupby(rows.period_date[consecutive].dt.date).mean()
    stated = performance.set_index("period_date").unstabilised_tier_change_rate
    assert len(expected) == MONTHS - 1 and stated.iloc[1:].notna().all()
    assert stated.reindex(expected.index).to_numpy() == pytest.approx(expected.to_numpy())
    assert pd.isna(stated.iloc[0])


def test_golden_record_snapshot_keeps_renames_status_changes_and_merges(built, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built["home"], home, ignore=shutil.ignore_patterns("target-*", "logs"))
    project = built["project"]
    first = query(home, "select count(*) as n from snapshots.dim_clients_snapshot").n.item()
    clients = query(home, "select client_key from marts.dim_clients where not is_unattributed "
                          "order by client_key limit 2").client_key
    renamed, merged = clients[0], clients[1]
    execute(home, f"""
        update marts.dim_clients set registered_name = registered_name || '（更名）',
            registration_status = '吊销' where client_key = '{renamed}';
        delete from marts.dim_clients where client_key = '{merged}';""")
    later = date(2026, 1, 31)
    dbt(project, home, "snapshot", "--select", "dim_clients_snapshot", as_of=later)
    dbt(project, home, "snapshot", "--select", "dim_clients_snapshot", as_of=later)  # re-run
    dbt(project, home, "snapshot", "--select", "dim_clients_snapshot", as_of=LAST)  # older month
    dbt(project, home, "run", "--select", "dim_clients_history", as_of=later)
    assert query(home, "select count(*) as n from snapshots.dim_clients_snapshot").n.item() == (
        first + 2)
    history = query(home, "select * from marts.dim_clients_history where client_key in (?, ?) "
                          "order by client_key, version_number", [renamed, merged])
    versions = history.groupby("client_key")
    new = versions.get_group(renamed).iloc[-1]
    assert new.version_number == 2 and new.is_current_version
    assert "registered_name" in new.changed_attributes
    assert "registration_status" in new.changed_attributes
    assert new.registered_name.endswith("（更名）") and new.previous_registration_status != "吊销"
    assert pd.Timestamp(new.valid_from_date).date() == later
    old = versions.get_group(renamed).iloc[0]
    assert pd.Timestamp(old.valid_to_date).date() == later and not old.is_current_version
    gone = versions.get_group(merged).iloc[-1]
    assert gone.is_retired and gone.changed_attributes == "is_retired"


def _fake_pipeline(monkeypatch, tmp_path, published: str | None, failing: date | None = None):
    """tiering.pipeline with run_job / refresh recorded instead of run (the jobs themselves are
    exercised by test_pipeline.py)."""
    import json

    import tiering.pipeline as pipeline

    monkeypatch.setenv("TIERING_HOME", str(tmp_path))
    monkeypatch.delenv("TIERING_LANDING_DIR", raising=False)
    from orchestration.deliveries import month_ends
    from tiering.contract import DEPARTMENTS

    for month in month_ends("2024-11", "2025-03"):  # a complete delivery from each department
        for department in DEPARTMENTS:
            folder = tmp_path / "landing" / department / month.isoformat()
            folder.mkdir(parents=True)
            (folder / "_manifest.json").write_text(json.dumps(
                {"department": department, "extract_date": month.isoformat(), "files": {}}))
    if published:
        (tmp_path / "state").mkdir(parents=True, exist_ok=True)
        (tmp_path / "state" / "last_refresh.json").write_text(
            json.dumps({"as_of_date": published, "fingerprint": ""}), encoding="utf-8")
    calls: list[tuple[str, date]] = []

    def run_job(job: str, as_of: date):
        calls.append((job, as_of))
        return (as_of != failing), "run-1", "boom"

    def refresh(as_of: date, *, force: bool = False):
        calls.append(("refresh", as_of))
        return 0

    monkeypatch.setattr(pipeline, "run_job", run_job)
    monkeypatch.setattr(pipeline, "refresh", refresh)
    return pipeline, calls


def test_backfill_builds_in_order_and_refreshes_the_newest_month(monkeypatch, tmp_path):
    pipeline, calls = _fake_pipeline(monkeypatch, tmp_path, published="2025-01-31")
    code = pipeline.backfill("2024-11", "2025-02")
    assert code == 0
    assert calls == [("build", date(2024, 11, 30)), ("build", date(2024, 12, 31)),
                     ("build", date(2025, 1, 31)), ("refresh", date(2025, 2, 28))]


def test_backfill_of_past_months_does_not_publish_an_older_copy(monkeypatch, tmp_path, capsys):
    pipeline, calls = _fake_pipeline(monkeypatch, tmp_path, published="2025-06-30")
    assert pipeline.backfill("2024-11", "2025-01") == 0
    assert [job for job, _ in calls] == ["build", "build", "build"]
    assert "Not published" in capsys.readouterr().out
    calls.clear()
    assert pipeline.backfill("2024-12", "2025-01", publish=True) == 0
    assert calls[-1] == ("refresh", date(2025, 1, 31))


def test_backfill_stops_at_the_first_failed_month(monkeypatch, tmp_path, capsys):
    pipeline, calls = _fake_pipeline(monkeypatch, tmp_path, published=None,
                                     failing=date(2024, 12, 31))
    assert pipeline.backfill("2024-11", "2025-03") == 1
    assert calls == [("build", date(2024, 11, 30)), ("build", date(2024, 12, 31))]
    assert "backfill stopped at 2024-12" in capsys.readouterr().err


def test_a_backfill_failing_after_deleting_held_months_says_where_the_history_ends(
        monkeypatch, tmp_path, capsys):
    """Held months are deleted before the build; when a month then fails, the message says what
    the history holds now (here nothing: every held month was deleted) and what rebuilds it."""
    import duckdb

    pipeline, calls = _fake_pipeline(monkeypatch, tmp_path, published=None,
                                     failing=date(2024, 11, 30))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.client_tiers as select date '2024-12-31' as period_date")
    monkeypatch.setattr(pipeline, "period_tables", lambda as_of=None: ["marts.client_tiers"])
    assert pipeline.backfill("2024-11", "2024-12") == 1
    assert calls == [("build", date(2024, 11, 30))]
    err = capsys.readouterr().err
    assert "backfill stopped at 2024-11" in err
    assert "the tier history is now empty, and the next refresh" in err, err


def test_backfill_of_months_without_every_delivery_is_refused_up_front(monkeypatch, tmp_path,
                                                                        capsys):
    """A month a department has not delivered fails the raw gate; a backfill over held months
    deletes them first, so it would have left the history shorter for nothing: refused before
    anything runs or is deleted. A restate needs only its last month complete."""
    pipeline, calls = _fake_pipeline(monkeypatch, tmp_path, published=None)
    assert pipeline.backfill("2024-09", "2024-12") == 1
    assert calls == []
    assert ("for 2024-09, 2024-10 (the landing zone's first complete month is 2024-11)"
            in capsys.readouterr().err)
    (tmp_path / "landing" / "risk" / "2025-01-31" / "_manifest.json").unlink()
    assert pipeline.backfill("2024-12", "2025-02") == 1
    assert calls == []
    assert pipeline.restate("2024-12", "2025-01") == 1
    assert calls == []
    assert "for 2025-01 " in capsys.readouterr().err


def test_backfill_cli_wiring(monkeypatch):
    import tiering.cli as cli
    import tiering.pipeline as pipeline

    seen = {}
    monkeypatch.setattr(pipeline, "backfill", lambda **kwargs: seen.update(kwargs) or 0)
    assert cli.main(["backfill", "--from", "2024-11", "--to", "2026-10", "--no-publish"]) == 0
    assert seen == {"start": "2024-11", "end": "2026-10", "publish": False}
    restated = {}
    monkeypatch.setattr(pipeline, "restate", lambda **kwargs: restated.update(kwargs) or 0)
    seen.clear()
    assert cli.main(["backfill", "--restate", "--from", "2024-11", "--to", "2026-10"]) == 0
    assert restated == {"start": "2024-11", "end": "2026-10", "publish": None} and not seen
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--from", "2024-13", "--to", "2026-10"])
