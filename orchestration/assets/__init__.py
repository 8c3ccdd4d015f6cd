"""The assets of the pipeline, layer by layer: raw → dbt (around the risk model) → serving."""

from orchestration.assets.dbt import warehouse_dbt_assets
from orchestration.assets.ingest import raw_deliveries
from orchestration.assets.quality import QUALITY_CHECKS
from orchestration.assets.risk_model import risk_model
from orchestration.assets.serving import refresh_report, serving_database

ASSETS = [raw_deliveries, warehouse_dbt_assets, risk_model, serving_database, refresh_report]

__all__ = ["ASSETS", "QUALITY_CHECKS"]
