"""Jobs. `refresh` is everything (ingest, dbt build around the risk model, GX gates, publish,
report); `build` is the same without publishing, for the earlier months of a backfill.

Run retries: the `dagster/max_retries` tag re-launches a run whose worker died (a transient
failure); with `run_retries.retry_on_asset_or_op_failure: false` in dagster.yaml a failed check or
model is not retried (it would fail the same way). Ingestion also retries its own step
(RetryPolicy) for flaky file systems.
"""

from __future__ import annotations

import dagster as dg

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
