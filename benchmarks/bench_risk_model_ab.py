"""Risk model settings A/B on one built warehouse (docs/benchmarks.md, "Tiering and risk model").

    .venv/bin/python benchmarks/bench_risk_model_ab.py --home /tmp/bt --set cross_fit_woe=true

--home is a `benchmarks/bench_tiering.py` home (a build as of the end of its history, with the
truth's defaults and latent PD after it). Both settings, A (the production defaults) and B
(A with each --set applied), train on the same rows read once from the warehouse (read-only):
the out-of-time validation of the as-of model, and the forward test (the as-of model's PD of
the as-of obligors against the truth's defaults in the next 12 months), each beside the oracle
(the truth's latent PD) and the internal rating alone on the same rows. Nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tiering import client_companies, discrimination, realised_defaults  # noqa: E402

from tiering.risk_model import (  # noqa: E402
    FEATURE_DIRECTIONS,
    FEATURES_TABLE,
    ModelSettings,
    _parameter,
    fit_as_of,
    load_training_rows,
    validate,
)


def parse_settings(pairs: list[str]) -> ModelSettings:
    types = {f.name: f.type for f in fields(ModelSettings)}
    changes = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in types:
            sys.exit(f"--set {pair}: ModelSettings has no field {name!r}")
        kind = types[name] if isinstance(types[name], str) else types[name].__name__
        changes[name] = text.lower() in ("1", "true", "yes") if kind == "bool" else \
            int(text) if kind == "int" else float(text)
    return replace(ModelSettings(), **changes)


def measure(home: Path, settings: ModelSettings) -> dict:
    truth = home / "truth"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        as_of = con.execute("select max(as_of_date) from ml.risk_model_runs").fetchone()[0]
        unrated = _parameter(con, "unrated_pd_prior", 0.02)
        rows, _ = load_training_rows(con, as_of, settings)
        mapping = client_companies(con, truth)
        columns = ", ".join(FEATURE_DIRECTIONS)
        obligors = con.execute(
            f"select client_key, period_date, rating_pd_prior, {columns} from {FEATURES_TABLE} "
            "where period_date = ? and has_credit_profile "
            "and coalesce(live_default_count, 0) = 0", [as_of]).df()
    latent = pd.read_parquet(truth / "latent_monthly.parquet")
    latent["period_date"] = pd.to_datetime(latent["period_date"])
    latent = latent[["company_id", "period_date", "pd_12m"]].rename(columns={"pd_12m": "oracle"})
    defaults = pd.read_parquet(truth / "defaults.parquet")
    defaults["period_date"] = pd.to_datetime(defaults["period_date"])
    out: dict = {"as_of": str(as_of)}

    metrics, oot = validate(rows, as_of, settings, unrated)
    oot["period_date"] = pd.to_datetime(oot["period_date"])
    oot = oot.merge(mapping, on="client_key", how="left").merge(
        latent, on=["company_id", "period_date"], how="left")
    out["validation_oot"] = discrimination(oot["default_next_12m"].to_numpy(), {
        "pd_model": oot["pd_oot"].to_numpy(), "oracle": oot["oracle"].fillna(1.0).to_numpy(),
        "internal_rating": oot["internal_rating_risk"].to_numpy()},
        oot["sample_weight"].to_numpy())

    model = fit_as_of(rows, as_of, settings)
    obligors["period_date"] = pd.to_datetime(obligors["period_date"])
    obligors = realised_defaults(obligors.merge(mapping, on="client_key", how="left"), defaults)
    obligors = obligors[obligors.performing].merge(latent, on=["company_id", "period_date"],
                                                   how="left")
    if model.scorecard is not None and obligors["defaulted"].any():
        out["forward_obligors"] = discrimination(obligors["defaulted"].to_numpy().astype(int), {
            "pd_model": model.scorecard.predict(obligors),
            "oracle": obligors["oracle"].fillna(1.0).to_numpy(),
            "internal_rating": obligors["rating_pd_prior"].fillna(unrated).to_numpy()})
        out["inputs_used"] = sorted(i.name for i in model.scorecard.inputs if i.coefficient)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a ModelSettings field for B (repeatable)")
    args = parser.parse_args()
    a, b = ModelSettings(), parse_settings(args.set)
    report = {"home": str(args.home), "b_changes": args.set,
              "a": measure(args.home, a), "b": measure(args.home, b)}
    for test in ("validation_oot", "forward_obligors"):
        if test in report["a"] and test in report["b"]:
            report[f"{test}_auc_a_b"] = [report[side][test]["pd_model"]["auc"]
                                         for side in ("a", "b")]
            report[f"{test}_share_a_b"] = [report[side][test].get("model_share_of_oracle")
                                           for side in ("a", "b")]
    print(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
