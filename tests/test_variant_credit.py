"""The variant generator's credit world (tiering/testing/variant_credit.py): the deliveries show
the latent credit health the truth records, and every realised default reaches the risk
department as exactly one 违约 event in the month it happens. benchmarks/bench_tiering.py
--generator variants measures tier quality on it (docs/robustness.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tiering.testing.variant_credit import RATINGS, pd_12m
from tiering.testing.variants import generate

COMPANIES, MONTHS, START, SEED = 600, 14, "2025-01", 5


def _jsonl(path: Path) -> list[dict]:
    """The rows of a JSON Lines delivery that parse (the generator breaks a few on purpose)."""
    rows = []
    for line in path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines():
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("credit_world")
    generate(home / "landing", home / "truth", COMPANIES, MONTHS, START, SEED,
             bad_deliveries=False, credit_world=True)
    truth = home / "truth"
    records = pd.read_parquet(truth / "source_records.parquet")
    risk_ids = records[records.entity == "credit_profiles"].set_index("record_id")["company_id"]
    events, profiles = [], []
    for folder in sorted((home / "landing" / "risk").iterdir()):
        for row in _jsonl(folder / "risk_events.jsonl"):
            events.append({**row, "extract_date": folder.name})
        for row in _jsonl(folder / "credit_profiles.jsonl"):
            profiles.append({**row, "extract_date": folder.name})
    events = pd.DataFrame(events)
    profiles = pd.DataFrame(profiles)
    events["company_id"] = events["risk_client_no"].map(risk_ids)
    profiles["company_id"] = profiles["risk_client_no"].map(risk_ids)
    return {"home": home, "truth": truth, "events": events, "profiles": profiles,
            "defaults": pd.read_parquet(truth / "defaults.parquet"),
            "latent": pd.read_parquet(truth / "latent_monthly.parquet"),
            "companies": pd.read_parquet(truth / "companies.parquet"),
            "risk_companies": set(risk_ids)}


def test_every_default_is_one_violation_event_in_its_month(world: dict) -> None:
    defaults, events = world["defaults"], world["events"]
    assert len(defaults) >= 10, "too few defaults to measure anything"
    assert defaults.company_id.is_unique
    assert set(defaults.company_id) <= world["risk_companies"], \
        "only a company with a credit profile can default"
    violations = events[events.event_type == "违约"]
    assert violations.company_id.notna().all()
    assert violations.company_id.is_unique, "one 违约 per defaulted company"
    delivered = violations.set_index("company_id")["extract_date"].sort_index()
    expected = defaults.set_index("company_id")["period_date"].sort_index()
    pd.testing.assert_series_equal(delivered, expected, check_names=False)


def test_deliveries_show_the_latent_health(world: dict) -> None:
    profiles, latent = world["profiles"], world["latent"]
    rated = profiles.merge(latent, left_on=["company_id", "extract_date"],
                           right_on=["company_id", "period_date"])
    rated = rated[rated.internal_rating != "D"]
    rank = rated.internal_rating.map({r: i for i, r in enumerate(RATINGS)})
    assert rank.corr(rated.health, method="spearman") < -0.5, \
        "a better health must mostly mean a better internal rating"
    overdue = pd.to_numeric(rated.max_overdue_days, errors="coerce")
    assert overdue[rated.health < -1].gt(0).mean() > 2 * overdue[rated.health > 1].gt(0).mean()
    defaulted = profiles.merge(world["defaults"], on="company_id")
    after = defaulted[defaulted.extract_date >= defaulted.period_date]
    assert (after.internal_rating == "D").all()
    assert pd.to_numeric(after.max_overdue_days, errors="coerce").ge(90).all()


def test_truth_is_consistent(world: dict) -> None:
    latent, companies = world["latent"], world["companies"]
    assert {"health", "growth"} <= set(companies.columns)
    assert np.allclose(latent.pd_12m, [pd_12m(h) for h in latent.health])
    assert latent.pd_12m.between(0, 1).all()
    # the latent rows of a defaulted company stop at its default month
    last = latent.groupby("company_id").period_date.max()
    defaults = world["defaults"].set_index("company_id").period_date
    assert (last[defaults.index] == defaults).all()
    schema = pq.read_schema(world["truth"] / "latent_monthly.parquet")
    assert schema.names == ["company_id", "period_date", "health", "pd_12m"]


def test_without_the_credit_world_no_credit_truth(tmp_path: Path) -> None:
    generate(tmp_path / "landing", tmp_path / "truth", 60, 2, START, SEED, bad_deliveries=False)
    assert not (tmp_path / "truth" / "defaults.parquet").exists()
    assert "health" not in pd.read_parquet(tmp_path / "truth" / "companies.parquet").columns
