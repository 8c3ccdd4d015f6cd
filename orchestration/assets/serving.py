"""Write-audit-publish: the serving copy for BI, then the refresh report.

`publish` reads the Great Expectations results of its own run back from the run's check
evaluations (a layer that was not checked in this run is checked here), and
`tiering.publish.publish` refuses when a blocking expectation failed, leaving the last good
`serving.duckdb` untouched.
"""

import json
from types import SimpleNamespace
from typing import Any

import dagster as dg

from orchestration.assets.dbt import (WAREHOUSE_POOL, dbt_model_keys,
                                      warehouse_dbt_assets_manifest)
from orchestration.assets.quality import LayerRun, run_layer_rows
from orchestration.metadata import scalar_metadata
from orchestration.resources import TieringResource
from orchestration.state import record_refresh

LAYERS = ("raw", "unified", "marts")
CHECK_LAYER = {"gx_raw": "raw", "gx_unified": "unified", "gx_marts": "marts"}


def _marts_keys() -> list[dg.AssetKey]:
    return sorted((k for k in dbt_model_keys().values() if k.path[0] == "marts"),
                  key=lambda k: k.path)


def as_check_result(row: dict[str, Any]) -> Any:
    try:
        from tiering.quality import CheckResult

        return CheckResult(**row)
    except (ImportError, TypeError):
        return SimpleNamespace(**row)


def _evaluations_of_this_run(context: dg.AssetExecutionContext) -> list[Any]:
    records = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [record.dagster_event.event_specific_data for record in records]


def dbt_test_rows(evaluations: list[Any]) -> list[dict[str, Any]]:
    """The dbt data tests of this run (the asset checks that are not a GX layer) as quality
    rows of the suite `dbt`, so that the publish log and the report show them beside the
    expectations. A test that reaches publishing failed only if it warns (a value outside the
    contract, a key twice in a delivery): an error-severity failure stops the build first."""
    rows = []
    for evaluation in evaluations:
        if evaluation.check_name in CHECK_LAYER:
            continue
        failed = (evaluation.metadata or {}).get("dagster_dbt/failed_row_count")
        count = getattr(failed, "value", failed)
        rows.append({
            "suite": "dbt", "skipped": False,
            "expectation": f"{evaluation.check_name} ({'/'.join(evaluation.asset_key.path)})",
            "success": bool(evaluation.passed),
            "blocking": evaluation.severity == dg.AssetCheckSeverity.ERROR,
            "observed": count,
            "message": "" if evaluation.passed else (
                f"{count} columns hold NULLs (dbt test; its rows name them)"
                if evaluation.check_name.startswith("not_null_columns")
                else f"{count} failing rows (dbt test)")})
    return rows


def checks_of_this_run(context: dg.AssetExecutionContext,
                       validation_ids: list | None = None) -> dict[str, list[dict[str, Any]]]:
    """Layer -> expectation rows, from the GX check evaluations recorded in this run (and the
    identifiers of their stored validation results into `validation_ids`)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for evaluation in _evaluations_of_this_run(context):
        layer = CHECK_LAYER.get(evaluation.check_name)
        results = evaluation.metadata.get("results_json")
        if layer and results is not None:
            rows.setdefault(layer, []).extend(json.loads(results.value))
            stored = evaluation.metadata.get("validation_ids")
            if stored is not None and validation_ids is not None:
                validation_ids.extend(json.loads(stored.value))
    return rows


@dg.asset(
    key=["serving", "serving_duckdb"],
    deps=_marts_keys(),
    group_name="serving",
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_POOL,
    description="The marts copied to a new $TIERING_HOME/serving.duckdb (personal data masked, "
                "publish_log appended) and atomically renamed into place; also exported as "
                "Parquet. Only when every blocking expectation passed.",
)
def serving_database(context: dg.AssetExecutionContext, tiering: TieringResource):
    from tiering.config import release_memory
    from tiering.publish import mart_docs, publish

    from tiering.quality import build_data_docs_for

    paths, as_of = tiering.paths, tiering.as_of()
    validation_ids: list = []
    rows = checks_of_this_run(context, validation_ids)
    for layer in LAYERS:
        if layer not in rows:
            context.log.info(f"GX layer '{layer}' was not checked in this run: checking it now")
            run = LayerRun()
            rows[layer] = run_layer_rows(layer, tiering, run)
            validation_ids.extend(run.stored)
    results = [as_check_result(row) for layer in LAYERS for row in rows[layer]]
    results += [as_check_result(row) for row in dbt_test_rows(_evaluations_of_this_run(context))]
    try:
        published = publish(paths, as_of, results,
                            docs=mart_docs(warehouse_dbt_assets_manifest()))
    finally:  # Data Docs of every suite of this run, once, whether or not it published
        build_data_docs_for(validation_ids)
        release_memory()
    context.log.info(f"published {published}")
    return dg.MaterializeResult(metadata={
        "as_of_date": as_of.isoformat(),
        "path": dg.MetadataValue.path(str(paths.serving)),
        "expectations_run": len(results),
        "expectations_passed": sum(bool(r.success) for r in results),
        **scalar_metadata(published),
    })


@dg.asset(
    key=["serving", "report"],
    deps=[serving_database],
    group_name="serving",
    kinds={"html", "excel"},
    description="$TIERING_HOME/reports/<as-of>/report.html and report.xlsx, from the serving copy.",
)
def refresh_report(context: dg.AssetExecutionContext, tiering: TieringResource):
    from tiering.report import generate

    paths, as_of = tiering.paths, tiering.as_of()
    path = generate(paths, as_of)
    context.log.info(f"report written to {path}")
    record_refresh(paths, as_of, context.run.run_id)  # a refresh is done once its report is out
    return dg.MaterializeResult(metadata={"as_of_date": as_of.isoformat(),
                                          "path": dg.MetadataValue.path(str(path))})
