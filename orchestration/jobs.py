"""Jobs. `refresh` is everything (ingest, dbt build around the risk model, GX gates, publish,
report); `build` is the same without publishing, for the earlier months of a backfill.
`retier` and `retier_build` are `refresh` and `build` without ingestion and the unified client
view (staging, identity, client marts): what `tiering backfill --restate` runs when the unified
view is already built from the same deliveries and code (orchestration/unified_view.py).

Run retries: the `dagster/max_retries` tag re-launches a run whose worker died (a transient
failure); with `run_retries.retry_on_asset_or_op_failure: false` in dagster.yaml a failed check or
model is not retried (it would fail the same way). Ingestion also retries its own step
(RetryPolicy) for flaky file systems.
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import unified_view_keys

RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest, dbt build (+ risk model), Great Expectations gates, publish, report.",
    tags=RUN_RETRY_TAGS,
)

build_job = dg.define_asset_job(
    "build",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("serving"),
    description="Ingest, dbt build (+ risk model) and the gates for one as-of date; no publish.",
    tags=RUN_RETRY_TAGS,
)

# Ingestion (and its gx_raw check) and the unified view, with their dbt tests and the unified
# gate; the publish step runs the raw and unified suites itself when a run did not check them.
_NOT_RETIERED = dg.AssetSelection.groups("raw") | dg.AssetSelection.assets(*unified_view_keys())

retier_job = dg.define_asset_job(
    "retier",
    selection=dg.AssetSelection.all() - _NOT_RETIERED,
    description="refresh without ingestion and the unified client view (already built from the "
                "same deliveries and code): rebuilds the tier history, checks, publishes.",
    tags=RUN_RETRY_TAGS,
)

retier_build_job = dg.define_asset_job(
    "retier_build",
    selection=dg.AssetSelection.all() - _NOT_RETIERED - dg.AssetSelection.groups("serving"),
    description="build without ingestion and the unified client view; no publish.",
    tags=RUN_RETRY_TAGS,
)
