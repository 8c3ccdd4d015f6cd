"""Ingestion: one asset per department (`raw/<department>`), computed together.

A delivery is the unit of work: `tiering.ingest` loads each complete delivery once (keyed by its
manifest's content), so re-running a department's asset after a department re-delivers one
extract reloads exactly that delivery and nothing else. Deliveries cut after the run's as-of date
are left alone (nothing looks ahead).
"""

import dagster as dg

from orchestration.deliveries import complete_deliveries
from orchestration.resources import TieringResource
from tiering.contract import DEPARTMENTS, entities_of

INGEST_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def raw_key(department: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", department])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_key(department),
            group_name="raw",
            kinds={"parquet"},
            description=(
                f"The {department} department's complete deliveries in the raw layer "
                f"($TIERING_HOME/raw/{department}/<entity>/<extract_date>.parquet): "
                + ", ".join(e.name for e in entities_of(department)) + "."
            ),
            skippable=True,
        )
        for department in DEPARTMENTS
    ],
    can_subset=True,
    retry_policy=INGEST_RETRY,
)
def raw_deliveries(context: dg.AssetExecutionContext, tiering: TieringResource):
    """`tiering ingest` up to the run's as-of date; one materialization per selected department.

    `tiering.ingest` works delivery by delivery and loads each complete delivery once (keyed by
    its manifest), whichever department is selected: materializing one department's asset loads
    whatever is new in the landing zone, and a re-delivered extract is reloaded alone."""
    from tiering.config import release_memory
    from tiering.ingest import ingest

    paths, as_of = tiering.paths, tiering.as_of()
    try:
        summary = ingest(paths, as_of=as_of)
    finally:
        release_memory()
    described = summary.describe()
    context.log.info(described)
    for folder in getattr(summary, "unread", []):
        context.log.warning(f"landing zone: {folder}")
    results = getattr(summary, "results", [])
    for key in sorted(context.selected_asset_keys, key=lambda k: k.path):
        department = key.path[-1]
        mine = [r for r in results if r.department == department]
        counts = {status: sum(r.status == status for r in mine)
                  for status in ("loaded", "rejected", "pending", "skipped")}
        rejected = [f"{r.extract_date}: {r.message}" for r in mine if r.status == "rejected"]
        for line in rejected:
            context.log.warning(f"{department} delivery rejected: {line}")
        delivered = [d.extract_date.isoformat()
                     for d in complete_deliveries(paths.landing, as_of)
                     if d.department == department]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "as_of_date": as_of.isoformat(),
                **{f"deliveries_{status}": n for status, n in counts.items()},
                "latest_delivery": delivered[-1] if delivered else "none",
                "rejected": dg.MetadataValue.md("\n".join(f"- {r}" for r in rejected) or "none"),
                "ingest_summary": dg.MetadataValue.md(f"```\n{described}\n```"),
            },
        )
