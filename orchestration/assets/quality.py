"""Great Expectations gates as blocking asset checks.

`tiering.quality.run_layer(layer, paths, as_of)` runs one layer's suites and returns one result
per expectation (suite, expectation, success, blocking, observed, message). A layer's check fails
with severity ERROR (and so stops everything downstream, publish included) when a blocking
expectation fails; a failed non-blocking expectation is a WARN. The per-expectation results travel
in the check's metadata (`results_json`), where the publish asset reads them back.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from orchestration.assets.dbt import (
    WAREHOUSE_POOL,
    dbt_model_keys,
    warehouse_dbt_assets_manifest,
)
from orchestration.assets.ingest import raw_key
from orchestration.resources import TieringResource
from tiering.contract import DEPARTMENTS

RESULT_FIELDS = ("suite", "expectation", "success", "blocking", "observed", "message", "skipped")

# Which dbt model carries each layer's gate; the first one that exists in the project is used.
LAYER_TARGETS: dict[str, tuple[str, ...]] = {
    "unified": ("dim_clients", "client_source_xref"),
    "marts": ("client_tiers", "client_tiers_current"),
}


def result_to_dict(result: Any) -> dict[str, Any]:
    row = {name: getattr(result, name, None) for name in RESULT_FIELDS}
    row["observed"] = None if row["observed"] is None else str(row["observed"])
    row["skipped"] = bool(row["skipped"])
    return row


def describe_failures(rows: Iterable[dict[str, Any]]) -> list[str]:
    return [f"{r['suite']}.{r['expectation']}" + (f": {r['message']}" if r.get("message") else "")
            for r in rows if not r["success"]]


def to_check_result(rows: Sequence[dict[str, Any]], run: "LayerRun | None" = None,
                    **target: Any) -> dg.AssetCheckResult:
    blocking_failed = [r for r in rows if not r["success"] and r["blocking"]]
    failed = [r for r in rows if not r["success"]]
    lines = describe_failures(failed)
    skipped = sum(bool(r.get("skipped")) for r in rows)
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if blocking_failed else dg.AssetCheckSeverity.WARN,
        description=("; ".join(lines) if lines else f"{len(rows)} expectations passed")[:2000],
        metadata={
            "expectations_run": len(rows),
            "expectations_failed": len(failed),
            "blocking_failed": len(blocking_failed),
            "expectations_skipped": skipped,
            "failed": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
            "results_json": dg.MetadataValue.text(json.dumps(rows, ensure_ascii=False)),
            "suite_seconds": dg.MetadataValue.text(json.dumps(run.timings if run else {})),
            "validation_ids": dg.MetadataValue.text(json.dumps(run.stored if run else [])),
        },
        **target,
    )


@dataclass
class LayerRun:
    """What one layer's GX run leaves besides its results: seconds per suite and the identifiers
    of its stored validation results (Data Docs are rendered from them at publish)."""

    timings: dict[str, float] = field(default_factory=dict)
    stored: list = field(default_factory=list)


def run_layer_rows(layer: str, tiering: TieringResource,
                   run: LayerRun | None = None) -> list[dict[str, Any]]:
    """One layer's expectations as rows. Data Docs only when one failed (so a person can read
    why at once); the passing runs are rendered once per refresh by the publish asset."""
    from tiering.config import release_memory
    from tiering.quality import run_layer

    run = run or LayerRun()
    try:
        return [result_to_dict(r) for r in run_layer(
            layer, tiering.paths, tiering.as_of(), timings=run.timings, docs="on_failure",
            stored=run.stored)]
    finally:
        release_memory()


def departments_of(row: dict[str, Any]) -> set[str]:
    """The departments a raw result is about: named in its suite or expectation, else in its
    message or observed value (e.g. 'finance 2025-04-30: rejected ...'), else all of them."""
    for text in (f"{row['suite']} {row['expectation']}",
                 f"{row.get('message') or ''} {row.get('observed') or ''}"):
        named = {d for d in DEPARTMENTS if re.search(rf"\b{d}\b", text)}
        if named:
            return named
    return set(DEPARTMENTS)


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec("gx_raw", asset=raw_key(d), blocking=True,
                             description=f"GX raw completeness suite for {d}")
           for d in DEPARTMENTS],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def gx_raw(context: dg.AssetCheckExecutionContext, tiering: TieringResource):
    """Raw completeness per department (a result goes to the departments it names)."""
    run = LayerRun()
    rows = run_layer_rows("raw", tiering, run)
    for check_key in context.selected_asset_check_keys:
        department = check_key.asset_key.path[-1]
        mine = [r for r in rows if department in departments_of(r)]
        yield to_check_result(mine, run, asset_key=check_key.asset_key, check_name="gx_raw")
        run = LayerRun(timings=run.timings)  # the stored results travel once


def _model_children() -> dict[str, set[str]]:
    nodes = warehouse_dbt_assets_manifest()["nodes"]
    children: dict[str, set[str]] = {props["name"]: set() for props in nodes.values()
                                     if props["resource_type"] == "model"}
    for props in nodes.values():
        if props["resource_type"] != "model":
            continue
        for parent in props["depends_on"]["nodes"]:
            parent_name = parent.split(".")[-1]
            if parent.startswith("model.") and parent_name in children:
                children[parent_name].add(props["name"])
    return children


def _fqn(model: str) -> list[str]:
    return next((props["fqn"] for props in warehouse_dbt_assets_manifest()["nodes"].values()
                 if props["resource_type"] == "model" and props["name"] == model), [])


def gate_target(layer: str) -> tuple[str, list[str]] | None:
    """(model the layer's check is attached to, other models it must run after).

    `unified`: `dim_clients`, built from everything the unified suite reads. `marts`: the suite reads
    several marts, so its check must run after all of them and still block publishing; a blocking
    check delays everything downstream of its asset, so it is attached to a mart with no children
    (`client_tiers` while it is a leaf, else the first leaf of the tier marts) and depends on the rest.
    """
    keys, children = dbt_model_keys(), _model_children()
    present = [name for name in LAYER_TARGETS[layer] if name in keys]
    if not present:
        return None  # the models of that layer have not landed yet
    if layer == "unified":
        return present[0], []
    marts = sorted(name for name, key in keys.items() if key.path[0] == "marts")
    tier_marts = [name for name in marts if "tiering" in _fqn(name)[1:-1]]
    leaves = [name for name in [*present, *tier_marts, *marts] if not children.get(name)]
    target = leaves[0] if leaves else present[0]
    return target, [name for name in marts if name != target]


def _layer_check(layer: str) -> dg.AssetChecksDefinition | None:
    found = gate_target(layer)
    if found is None:
        return None
    target, after = found
    keys = dbt_model_keys()

    @dg.asset_check(asset=keys[target], name=f"gx_{layer}", blocking=True, pool=WAREHOUSE_POOL,
                    additional_deps=[keys[name] for name in after],
                    description=f"GX {layer} suite (tiering.quality, layer '{layer}'), run after "
                                f"{', '.join([target, *after])}; blocks publishing.")
    def _check(tiering: TieringResource) -> dg.AssetCheckResult:
        run = LayerRun()
        return to_check_result(run_layer_rows(layer, tiering, run), run)

    return _check


QUALITY_CHECKS = [gx_raw, *(c for c in (_layer_check("unified"), _layer_check("marts")) if c)]
