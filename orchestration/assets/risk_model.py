"""The risk model: retrained on the warehouse's history at every refresh, scores written back as
`ml.client_pd_scores` (docs/risk_model.md).

It reads the dbt feature model(s) and dbt models tagged `after_risk_model` read its scores through
`source('ml', 'client_pd_scores')`, so Dagster runs `dbt build` in two steps around it. Each run
fits the model as of the run's date (validated out of time, versioned under
$TIERING_HOME/models/<version>/) and scores the as-of period plus any period not yet scored,
each with the model as of that period; periods already scored keep their PD.
"""

import dagster as dg

from orchestration.assets.dbt import WAREHOUSE_POOL, dbt_model_keys, models_tagged
from orchestration.metadata import scalar_metadata
from orchestration.resources import TieringResource

AFTER_RISK_MODEL_TAG = "after_risk_model"


def risk_model_inputs() -> list[dg.AssetKey]:
    """The dbt models the risk model reads: feature models (name contains `feature`) that run before
    it; if there are none yet, every model that runs before it, which keeps the order right."""
    keys = dbt_model_keys()
    before = {name: key for name, key in keys.items() if name not in models_tagged(AFTER_RISK_MODEL_TAG)}
    features = [key for name, key in before.items() if "feature" in name]
    return sorted(features or before.values(), key=lambda k: k.path)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ml", "client_pd_scores"], deps=risk_model_inputs(), group_name="ml",
                     kinds={"python", "scikitlearn", "duckdb"},
                     description="12-month PD of the firm's obligors (one row per client with "
                                 "a credit profile per period), each period scored by the "
                                 "model as of that period (point in time)."),
        dg.AssetSpec(["ml", "risk_model_runs"], deps=risk_model_inputs(), group_name="ml",
                     kinds={"python", "duckdb"},
                     description="One row per trained model version: as-of date, method, "
                                 "training sample, out-of-time AUC / Gini / KS beside the "
                                 "internal rating and the bureau score alone."),
    ],
    name="risk_model",
    pool=WAREHOUSE_POOL,
)
def risk_model(context: dg.AssetExecutionContext, tiering: TieringResource):
    """tiering.risk_model.train_and_score on the build database as of the run's date."""
    from tiering.config import release_memory
    from tiering.risk_model import train_and_score

    paths, as_of = tiering.paths, tiering.as_of()
    try:
        card = train_and_score(paths.warehouse, as_of, paths.models_dir)
    finally:
        release_memory()
    context.log.info(f"risk model as of {as_of}: {card}")
    card = dict(card or {})
    periods = card.pop("periods_scored", [])
    metadata = {"as_of_date": as_of.isoformat(), "periods_scored": len(periods),
                **scalar_metadata(card)}
    yield dg.MaterializeResult(asset_key=["ml", "client_pd_scores"], metadata=metadata)
    yield dg.MaterializeResult(asset_key=["ml", "risk_model_runs"], metadata=metadata)
