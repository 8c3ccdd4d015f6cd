"""Small hand-made landing zones for the ingestion tests: every department and entity of the
contract, valid rows by default, and helpers to break them in the ways the contract lists."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tiering.contract import DEPARTMENTS, Entity, entities_of
from tiering.ingest.rules import DATES, NUMERIC, YEARS

KEY_PREFIX = {"crm_id": "CRM", "customer_code": "F", "voucher_no": "V", "risk_client_no": "R",
              "event_id": "E", "project_code": "P", "ticket_id": "T", "uscc": "91110000MA"}


def value(entity: Entity, column: str, i: int) -> object:
    """A valid value of `column` for row `i`, typed as the format carries it."""
    key = (entity.department, entity.name)
    if column in KEY_PREFIX:
        return f"{KEY_PREFIX[column]}{i:07d}"
    if column in NUMERIC.get(key, ()) or column in YEARS.get(key, ()):
        if entity.fmt == "csv":
            return f"{1000 * i + 1234567.5:,.2f}" if column == "amount" else str(2020 + i % 5)
        return 1000 * i + 0.5 if entity.fmt == "jsonl" else 1000 * i
    if column in DATES.get(key, ()):
        day = date(2024, 1, 1) + timedelta(days=i)
        if entity.fmt == "parquet":
            return day
        if column in ("opened_at", "closed_at"):
            return f"{day.isoformat()}T09:30:00+08:00"
        if column in ("created_at", "updated_at"):
            return f"{day.isoformat()} 09:30:00"
        return day.strftime("%Y/%m/%d") if column == "receipt_date" else day.isoformat()
    if column in ("former_names", "association_memberships"):
        return [f"旧名{i}", f"曾用名{i}"]
    if column == "on_watchlist":
        return i % 2 == 0
    return f"北京中鼎{column}{i}"


def rows_of(entity: Entity, n: int, start: int = 0) -> list[dict]:
    return [{c: value(entity, c, i) for c in entity.columns} for i in range(start, start + n)]


def csv_text(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if r.get(c) is None else r.get(c) for c in columns] for r in rows])
    return buffer.getvalue()


def write_entity(folder: Path, entity: Entity, rows: list[dict],
                 columns: list[str] | None = None) -> Path:
    """Write `rows` (dicts) in the entity's format and encoding; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / entity.file_name
    columns = list(columns or entity.columns)
    if entity.fmt == "csv":
        path.write_bytes(csv_text(columns, rows).encode(entity.encoding))
    elif entity.fmt == "jsonl":
        path.write_text("".join(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False)
                                + "\n" for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows]), path)
    return path


def write_manifest(folder: Path, department: str, extract_date: date,
                   rows: dict[str, int]) -> Path:
    files = {}
    for entity in entities_of(department):
        if entity.file_name in rows:
            spec: dict = {"rows": rows[entity.file_name]}
            if entity.fmt != "parquet":
                spec["encoding"] = entity.encoding
            files[entity.file_name] = spec
    path = folder / "_manifest.json"
    path.write_text(json.dumps({"department": department, "extract_date": str(extract_date),
                                "files": files}, ensure_ascii=False), encoding="utf-8")
    return path


def make_delivery(landing: Path, department: str, extract_date: date, n: int = 20,
                  start: int = 0, manifest: bool = True) -> Path:
    folder = landing / department / extract_date.isoformat()
    counts = {}
    for entity in entities_of(department):
        write_entity(folder, entity, rows_of(entity, n, start))
        counts[entity.file_name] = n
    if manifest:
        write_manifest(folder, department, extract_date, counts)
    return folder


def make_landing(landing: Path, dates: list[date], n: int = 20) -> Path:
    """Every department delivers `n` rows per entity on each date (keys shift by month)."""
    for number, extract_date in enumerate(dates):
        for department in DEPARTMENTS:
            make_delivery(landing, department, extract_date, n, start=number * n // 2)
    return landing


def set_manifest_rows(folder: Path, file_name: str, rows: int) -> None:
    path = folder / "_manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"][file_name]["rows"] = rows
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def append_raw_lines(path: Path, lines: list[bytes]) -> None:
    """Append raw bytes lines (each without newline) to a delivered text file."""
    with path.open("ab") as handle:
        for line in lines:
            handle.write(line + b"\n")
