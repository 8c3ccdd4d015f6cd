"""Is the unified client view already built from these inputs? (`tiering backfill --restate`)

The unified client view is staging, identity resolution and the client marts: every dbt model
under UNIFIED_VIEW_PATHS and the dim_clients snapshot. It depends only on the raw layer up to
the as-of date, on its own dbt code and seeds, and on nothing the tiering models compute. A
restate (a weight, policy or feature change rebuilding the tier history) therefore need not
rebuild it when the last build of it was as of the same date, from the same deliveries, with the
same code, and its tables still hold what that build wrote.

The dbt step that builds every unified-view model deletes `$TIERING_HOME/state/unified_view.json`
before dbt starts and writes it once dbt succeeded: the as-of date, a key over the inputs (the
deliveries the raw layer holds up to the as-of date, from the ingestion log; the dbt code of the
unified-view models and of everything upstream of them: model and seed checksums and configs,
source definitions, the macros they call, dbt_project.yml) and a fingerprint of its output tables
(`client_source_xref`, `dim_clients`). `why_not_current` recomputes all three; any
difference, a failed or partial build in between, or a delivery not ingested yet means "rebuild".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from orchestration.state import write_state
from tiering.config import PROJECT_DIR, Paths

# Where the unified view's models live (paths in the dbt project), and its snapshot.
UNIFIED_VIEW_PATHS = ("models/staging/", "models/intermediate/identity/", "models/marts/clients/")
UNIFIED_VIEW_RESOURCE_TYPES = ("model", "snapshot")
# The output tables whose content is fingerprinted (schema.table in the build database).
FINGERPRINTED_TABLES = {
    "marts.client_source_xref": "department, entity, record_id, client_key, match_rule",
    "marts.dim_clients": "client_key, registered_name, uscc",
}
STATE_FILE = "unified_view.json"


def unified_view_nodes(manifest: Mapping[str, Any]) -> list[str]:
    """Unique ids of the unified view's models and snapshots."""
    return sorted(
        unique_id for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in UNIFIED_VIEW_RESOURCE_TYPES
        and (node["resource_type"] == "snapshot"
             or node["original_file_path"].replace("\\", "/").startswith(UNIFIED_VIEW_PATHS)))


def _closure(start: list[str], parents: Callable[[str], list[str]]) -> set[str]:
    """`start` and everything reachable from it through `parents`."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        item = stack.pop()
        if item not in seen:
            seen.add(item)
            stack.extend(parents(item))
    return seen


def code_key(manifest: Mapping[str, Any], project_dir: Path = PROJECT_DIR) -> str:
    """A digest of the dbt code the unified view is built with: every node upstream of (and
    including) its models (checksum of the file, config), the sources they read, the macros
    they call (transitively) and dbt_project.yml (vars, model configs)."""
    nodes, sources, macros = manifest["nodes"], manifest["sources"], manifest["macros"]

    def depends_on(unique_id: str) -> dict:
        return (nodes.get(unique_id) or sources.get(unique_id) or {}).get("depends_on", {})

    seen_nodes = _closure(unified_view_nodes(manifest),
                          lambda unique_id: depends_on(unique_id).get("nodes", []))
    seen_macros = _closure(
        [name for uid in seen_nodes for name in depends_on(uid).get("macros", [])],
        lambda name: macros.get(name, {}).get("depends_on", {}).get("macros", []))
    digest = hashlib.sha256()
    for unique_id in sorted(seen_nodes):
        if unique_id in nodes:
            node = nodes[unique_id]
            described = {"checksum": node.get("checksum"), "config": node.get("config")}
        else:
            source = sources.get(unique_id, {})
            described = {key: source.get(key) for key in ("external", "config", "relation_name")}
        digest.update(f"{unique_id}|{json.dumps(described, sort_keys=True, default=str)}\n"
                      .encode())
    for name in sorted(seen_macros):
        digest.update(f"{name}|{macros.get(name, {}).get('macro_sql', '')}\n".encode())
    digest.update((project_dir / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


def raw_key(paths: Paths, as_of: date) -> str:
    """A digest of what the raw layer holds up to `as_of`: the ingestion log's deliveries."""
    from tiering.ingest import store

    rows = sorted(
        (row["department"], row["extract_date"].isoformat(), row["status"],
         row["manifest_sha256"] or "", row["rows_loaded"] or 0)
        for row in store.read_log(paths).to_pylist() if row["extract_date"] <= as_of)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def inputs_key(paths: Paths, as_of: date, manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        f"{as_of.isoformat()}|{raw_key(paths, as_of)}|{code_key(manifest)}".encode()).hexdigest()


def tables_key(paths: Paths) -> str | None:
    """Row count and hash sum of the fingerprinted tables (None when one is missing)."""
    import duckdb

    parts = []
    try:
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            for table, columns in FINGERPRINTED_TABLES.items():
                count, total = con.execute(
                    f"select count(*), coalesce(sum(hash({columns})), 0) from {table}").fetchone()
                parts.append(f"{table}:{count}:{total}")
    except duckdb.Error:
        return None
    return "|".join(parts)


def _state_file(paths: Paths) -> Path:
    return paths.state / STATE_FILE


def forget(paths: Paths) -> None:
    """The unified view is about to be rebuilt: until that succeeds, nothing vouches for it."""
    _state_file(paths).unlink(missing_ok=True)


def record(paths: Paths, as_of: date, key: str, run_id: str) -> None:
    state = {
        "as_of_date": as_of.isoformat(),
        "inputs_key": key,
        "tables_key": tables_key(paths),
        "run_id": run_id,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_state(_state_file(paths), state)


def recorded(paths: Paths) -> dict | None:
    try:
        return json.loads(_state_file(paths).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def why_not_current(paths: Paths, as_of: date, manifest: Mapping[str, Any]) -> str | None:
    """None when the unified view in the build database is what a build as of `as_of` would
    produce now; else the reason it has to be rebuilt."""
    from tiering.ingest.run import deliveries_to_load

    state = recorded(paths)
    if state is None:
        return "no successful build of it is recorded since the last one started"
    if state["as_of_date"] != as_of.isoformat():
        return f"it was built as of {state['as_of_date']}"
    waiting = deliveries_to_load(paths, as_of)
    if waiting:
        return f"{len(waiting)} delivery(ies) up to {as_of} are not ingested yet"
    if state["inputs_key"] != inputs_key(paths, as_of, manifest):
        return "its deliveries or its dbt code changed since it was built"
    if state.get("tables_key") is None or state["tables_key"] != tables_key(paths):
        return "its tables changed since it was built"
    return None
