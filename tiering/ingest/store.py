"""The raw layer on disk (docs/architecture.md, "Raw layer"): atomic Parquet writes, the zero-row
`_schema.parquet` of every entity, quarantine files and the ingestion log."""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tiering.config import Paths
from tiering.contract import ENTITIES, Entity

LINEAGE_SCHEMA = pa.schema([
    ("_department", pa.string()),
    ("_entity", pa.string()),
    ("_extract_date", pa.date32()),
    ("_source_file", pa.string()),
    ("_row_number", pa.int64()),
    ("_loaded_at", pa.timestamp("us")),
])

QUARANTINE_SCHEMA = pa.schema([
    ("_department", pa.string()),
    ("_entity", pa.string()),
    ("_extract_date", pa.date32()),
    ("_source_file", pa.string()),
    ("_row_number", pa.int64()),
    ("reason", pa.string()),
    ("raw_text", pa.string()),
    ("_loaded_at", pa.timestamp("us")),
])

LOG_SCHEMA = pa.schema([
    ("department", pa.string()),
    ("extract_date", pa.date32()),
    ("status", pa.string()),  # loaded | rejected | pending
    ("message", pa.string()),
    ("files", pa.int64()),
    ("rows_expected", pa.int64()),
    ("rows_loaded", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("logged_at", pa.timestamp("us")),
    ("manifest_sha256", pa.string()),  # which manifest content the row describes
])

SCHEMA_FILE = "_schema.parquet"


def entity_schema(entity: Entity) -> pa.Schema:
    return pa.schema([(c, pa.string()) for c in entity.columns] + list(LINEAGE_SCHEMA))


def entity_dir(paths: Paths, entity: Entity) -> Path:
    return paths.raw / entity.department / entity.name


def raw_file(paths: Paths, entity: Entity, extract_date: date) -> Path:
    return entity_dir(paths, entity) / f"{extract_date.isoformat()}.parquet"


def quarantine_file(paths: Paths, entity: Entity, extract_date: date) -> Path:
    folder = paths.quarantine / entity.department / entity.name
    return folder / f"{extract_date.isoformat()}.parquet"


def log_file(paths: Paths) -> Path:
    return paths.raw / "_ingestion_log.parquet"


def temp_path(target: Path) -> Path:
    """Same folder (so the rename is atomic), a name no `*.parquet` glob matches."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# zstd level 1 compresses the raw layer almost as well as the default level at twice the speed;
# dictionary encoding only for the lineage columns, whose values repeat on every row (measured:
# docs/benchmarks.md, Ingestion).
WRITE_OPTIONS = {"compression": "zstd", "compression_level": 1,
                 "use_dictionary": ["_department", "_entity", "_source_file"]}


def stage_parquet(table: pa.Table, target: Path) -> Path:
    """Write to a temp file next to `target`; `os.replace` it later to publish."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    pq.write_table(table, tmp, **WRITE_OPTIONS)
    return tmp


def ensure_schema_files(paths: Paths) -> None:
    """A zero-row file with every contract and lineage column in every entity folder, so the
    sources' globs are valid (and typed) before any delivery arrives."""
    for entity in ENTITIES:
        target = entity_dir(paths, entity) / SCHEMA_FILE
        schema = entity_schema(entity)
        if target.exists():
            try:
                if pq.read_schema(target).equals(schema):
                    continue
            except pa.ArrowException:
                pass
        write_parquet_atomic(schema.empty_table(), target)


def read_log(paths: Paths) -> pa.Table:
    path = log_file(paths)
    if not path.exists():
        return LOG_SCHEMA.empty_table()
    return pq.read_table(path).cast(LOG_SCHEMA)


def write_log(paths: Paths, rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: (r["extract_date"], r["department"]))
    write_parquet_atomic(pa.Table.from_pylist(rows, schema=LOG_SCHEMA), log_file(paths))


def now_utc() -> datetime:
    """UTC wall time, naive (the raw layer's TIMESTAMP columns are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
