"""The dbt project as one subsettable `@dbt_assets` running `dbt build` (dbt tests become asset
checks). Sources of a department map to that department's ingest asset (`raw/<department>`);
`source('ml', 'client_pd_scores')` keeps its default key, which the risk-model asset produces, so
Dagster runs dbt in two steps around the risk model."""

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration import unified_view
from orchestration.project import (
    as_of_environment,
    dbt_environment,
    dbt_project,
    ensure_manifest,
)
from orchestration.resources import TieringResource
from tiering.contract import DEPARTMENTS

WAREHOUSE_POOL = "warehouse_writer"
PARTIAL_PARSE = "partial_parse.msgpack"
BUILD_FLAGS = ("--exclude-resource-type", "unit_test")


class TieringTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if (dbt_resource_props["resource_type"] == "source"
                and dbt_resource_props["source_name"] in DEPARTMENTS):
            return dg.AssetKey(["raw", dbt_resource_props["source_name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str,
                       project: DbtProject | None) -> dg.AssetSpec:
        """Seeds are loaded after the deliveries, like the models: without that edge Dagster would
        run them in a dbt step (and a dbt start-up) of their own before ingestion."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if manifest["nodes"].get(unique_id, {}).get("resource_type") == "seed":
            return spec.merge_attributes(deps=[dg.AssetKey(["raw", d]) for d in DEPARTMENTS])
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The layer (staging, intermediate, marts, seeds, ...) so the graph shows the layers."""
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


translator = TieringTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        enable_duplicate_source_asset_keys=True,
    )
)


@dbt_assets(
    manifest=ensure_manifest(dbt_project),
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, tiering: TieringResource
):
    """`dbt build` (models, seeds, snapshots and their tests) as of the run's as-of date."""
    # Unit tests check the models' logic on fixed fixtures, not the data: they run in CI
    # (tests/test_staging.py, test_identity.py, test_tiering.py), not on every refresh.
    # A step that rebuilds the unified client view vouches for it once dbt succeeded
    # (orchestration/unified_view.py: a restate need not rebuild it).
    unified = unified_view_keys()
    rebuilds_unified = bool(unified & context.selected_asset_keys)
    if rebuilds_unified:
        paths, as_of = tiering.paths, tiering.as_of()
        unified_view.forget(paths)
        inputs = unified_view.inputs_key(paths, as_of, warehouse_dbt_assets_manifest())
    # When Dagster splits the project into steps, a relationships test must run in the step of the
    # model it tests, not in an earlier step that only built the seed it points to (dbt's default
    # "eager" indirect selection). dagster-dbt still overrides this when it selects tests itself.
    # The as-of date reaches dbt in the environment, not in --vars (macros/as_of_date.sql).
    with (dbt_environment("DBT_INDIRECT_SELECTION", "buildable", replace=False),
          as_of_environment(tiering.as_of())):
        invocation = dbt.cli(["build", "--vars", tiering.dbt_vars(), *BUILD_FLAGS],
                             context=context)
    yield from invocation.stream()
    keep_partial_parse(invocation.target_path)
    if rebuilds_unified and unified <= context.selected_asset_keys:
        unified_view.record(paths, as_of, inputs, context.run.run_id)


def keep_partial_parse(invocation_target: Path) -> None:
    """Let the next dbt step (same vars, same home) start from this step's parse: dagster-dbt
    seeds every invocation with the partial_parse.msgpack of `$DBT_TARGET_PATH` as it is when
    the step starts (relative to the project), so the parse goes there. Not to the target
    path this process started with: when the two differ (DBT_TARGET_PATH set after the import,
    as the tests do), every step parsed the whole project again (~20 s each on 2 cores)."""
    produced = Path(dbt_project.project_dir, invocation_target, PARTIAL_PARSE)
    if produced.exists():
        seeded_from = Path(os.environ.get("DBT_TARGET_PATH", "target"))  # dagster-dbt's rule
        shared = Path(dbt_project.project_dir, seeded_from, PARTIAL_PARSE)
        shared.parent.mkdir(parents=True, exist_ok=True)
        temp = shared.with_suffix(".tmp")
        shutil.copyfile(produced, temp)
        os.replace(temp, shared)


def dbt_model_keys() -> dict[str, dg.AssetKey]:
    """Model name -> asset key for every dbt model in the manifest."""
    return {
        spec_name: key
        for spec_name, key in (
            (props["name"], translator.get_asset_key(props))
            for props in warehouse_dbt_assets_manifest()["nodes"].values()
            if props["resource_type"] == "model"
        )
    }


def unified_view_keys() -> set[dg.AssetKey]:
    """Asset keys of the unified client view's models and snapshot (staging, identity, the
    client marts: orchestration/unified_view.py)."""
    manifest = warehouse_dbt_assets_manifest()
    return {translator.get_asset_key(manifest["nodes"][unique_id])
            for unique_id in unified_view.unified_view_nodes(manifest)}


def models_tagged(tag: str) -> set[str]:
    return {props["name"] for props in warehouse_dbt_assets_manifest()["nodes"].values()
            if props["resource_type"] == "model" and tag in props.get("tags", [])}


def warehouse_dbt_assets_manifest() -> dict:
    import json

    global _MANIFEST
    if _MANIFEST is None:
        _MANIFEST = json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))
    return _MANIFEST


_MANIFEST: dict | None = None
