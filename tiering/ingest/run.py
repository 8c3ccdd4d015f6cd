"""`tiering ingest`: every complete delivery not yet loaded, whole or not at all."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from tiering.config import Paths
from tiering.contract import Entity, entities_of
from tiering.ingest import store
from tiering.ingest.landing import MANIFEST, LandedDelivery, ManifestError, known_encoding, \
    read_manifest, scan_landing, unread_folders
from tiering.ingest.readers import FileRejected, ParsedFile, read_file


@dataclass
class DeliveryResult:
    department: str
    extract_date: date
    status: str  # loaded | rejected | pending | skipped (already loaded or rejected as is)
    message: str = ""
    files: int = 0
    rows_expected: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    results: list[DeliveryResult]
    as_of: date | None = None
    unread: list[str] = field(default_factory=list)  # folders with a manifest not read

    def of(self, status: str) -> list[DeliveryResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return not self.of("rejected")

    def describe(self) -> str:
        loaded, rejected = self.of("loaded"), self.of("rejected")
        pending, skipped = self.of("pending"), self.of("skipped")
        cut = f" (as of {self.as_of})" if self.as_of else ""
        lines = [
            f"Ingestion{cut}: {len(self.results)} deliveries seen: {len(loaded)} loaded, "
            f"{len(rejected)} rejected, {len(pending)} pending, {len(skipped)} already done.",
        ]
        if loaded:
            rows = sum(r.rows_loaded or 0 for r in loaded)
            quarantined = sum(r.rows_quarantined or 0 for r in loaded)
            lines.append(f"  loaded {rows:,} rows, quarantined {quarantined:,} rows")
        for r in loaded:
            lines.append(f"  loaded    {r.department}/{r.extract_date}: {r.rows_loaded:,} rows"
                         + (f", {r.rows_quarantined:,} quarantined" if r.rows_quarantined else ""))
            lines += [f"            warning: {w}" for w in r.warnings]
        for r in rejected:
            lines.append(f"  REJECTED  {r.department}/{r.extract_date}: {r.message}")
        for r in pending:
            lines.append(f"  pending   {r.department}/{r.extract_date}: {r.message}")
        lines += [f"  NOT READ  {folder}" for folder in self.unread]
        return "\n".join(lines)


class DeliveryRejected(ValueError):
    pass


@dataclass
class _LoadedFile:
    entity: Entity
    relative: str
    parsed: ParsedFile


@contextmanager
def _exclusive(paths: Paths):
    """One ingestion at a time per raw layer."""
    paths.raw.mkdir(parents=True, exist_ok=True)
    with open(paths.raw / ".ingest.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


PARALLEL_FROM = 24  # deliveries per worker process before a second one pays off


def _workers(n_deliveries: int) -> int:
    """Parallel delivery readers: TIERING_INGEST_WORKERS, default one per core (at most 4);
    one when there is little to do (a worker process costs ~1-2 s of imports)."""
    configured = os.environ.get("TIERING_INGEST_WORKERS")
    workers = int(configured) if configured else min(os.cpu_count() or 1, 4)
    return max(1, min(workers, n_deliveries // PARALLEL_FROM))


def _load_all(paths: Paths, deliveries: list[LandedDelivery]) -> list[DeliveryResult]:
    """Read, check and publish deliveries, in parallel processes when worth it. Each delivery
    writes only its own files; results come back in the order given."""
    workers = _workers(len(deliveries))
    if workers == 1:
        return [_ingest_delivery(paths, d) for d in deliveries]
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_ingest_delivery, [paths] * len(deliveries), deliveries))


def ingest(paths: Paths, as_of: date | None = None) -> IngestSummary:
    """Load every complete delivery (cut on or before `as_of`) that is not loaded yet."""
    with _exclusive(paths):
        store.ensure_schema_files(paths)
        log = {(r["department"], r["extract_date"]): r for r in store.read_log(paths).to_pylist()}
        changed = False
        results: list[DeliveryResult | None] = []
        to_load: list[tuple[int, LandedDelivery, str, dict | None]] = []
        for delivery in scan_landing(paths.landing, as_of):
            key = (delivery.department, delivery.extract_date)
            previous = log.get(key)
            if not delivery.is_complete:
                result = DeliveryResult(delivery.department, delivery.extract_date, "pending",
                                        f"no {MANIFEST} yet: still being delivered")
                if previous and previous["status"] == "loaded":
                    result.message += " (the version loaded before is kept)"
                results.append(result)
                if not previous or (previous["status"], previous["message"]) != (
                        "pending", result.message):
                    log[key] = _log_row(result, None, store.now_utc())
                    changed = True
                continue
            sha = delivery.manifest_sha256()
            if _already_done(previous, sha):
                results.append(DeliveryResult(
                    delivery.department, delivery.extract_date, "skipped",
                    f"already {previous['status']}", previous["files"],
                    previous["rows_expected"], previous["rows_loaded"],
                    previous["rows_quarantined"]))
                continue
            to_load.append((len(results), delivery, sha, previous))
            results.append(None)
        loaded = _load_all(paths, [delivery for _, delivery, _, _ in to_load])
        for (index, delivery, sha, previous), result in zip(to_load, loaded):
            if result.status == "rejected" and previous and previous["status"] == "loaded":
                result.message += " (the version loaded before is kept)"
            results[index] = result
            log[(delivery.department, delivery.extract_date)] = _log_row(
                result, sha, store.now_utc())
            changed = True
        if changed:
            store.write_log(paths, list(log.values()))
        return IngestSummary([r for r in results if r is not None], as_of,
                             unread_folders(paths.landing))


def _already_done(previous: dict | None, sha: str) -> bool:
    """The log holds this manifest's content as loaded or rejected: nothing to do again."""
    return bool(previous and previous["manifest_sha256"] == sha
                and previous["status"] in ("loaded", "rejected"))


def deliveries_to_load(paths: Paths, as_of: date | None = None) -> list[LandedDelivery]:
    """The complete deliveries (cut on or before `as_of`) the next `ingest` would load: new, or
    re-delivered with another manifest. Reads the landing zone and the log, changes nothing."""
    log = {(r["department"], r["extract_date"]): r for r in store.read_log(paths).to_pylist()}
    return [delivery for delivery in scan_landing(paths.landing, as_of)
            if delivery.is_complete and not _already_done(
                log.get((delivery.department, delivery.extract_date)),
                delivery.manifest_sha256())]


def _log_row(result: DeliveryResult, sha: str | None, at: datetime) -> dict:
    message = "; ".join([result.message] * bool(result.message) + result.warnings)
    return {
        "department": result.department, "extract_date": result.extract_date,
        "status": result.status, "message": message, "files": result.files,
        "rows_expected": result.rows_expected, "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined, "logged_at": at, "manifest_sha256": sha,
    }


def _ingest_delivery(paths: Paths, delivery: LandedDelivery) -> DeliveryResult:
    result = DeliveryResult(delivery.department, delivery.extract_date, "rejected")
    try:
        files = _read_delivery(paths, delivery, result.warnings)
    except (ManifestError, DeliveryRejected) as exc:
        result.message = str(exc)
        result.warnings.clear()  # they describe files that are not loaded
        return result
    loaded_at = store.now_utc()
    _publish(paths, delivery, files, loaded_at)
    result.status = "loaded"
    result.files = len(files)
    result.rows_loaded = sum(f.parsed.table.num_rows for f in files)
    result.rows_quarantined = sum(len(f.parsed.quarantined) for f in files)
    result.rows_expected = result.rows_loaded + result.rows_quarantined
    result.message = (f"{result.files} files, {result.rows_loaded} rows loaded, "
                      f"{result.rows_quarantined} quarantined")
    return result


def _read_delivery(paths: Paths, delivery: LandedDelivery,
                   warnings: list[str]) -> list[_LoadedFile]:
    """Read and check every file; raise DeliveryRejected on the first fatal problem."""
    manifest = read_manifest(delivery)
    # file names match whatever their case (CLIENTS.CSV from a Windows exporter is clients.csv)
    by_file = {e.file_name.casefold(): e for e in entities_of(delivery.department)}
    on_disk = {p.name for p in delivery.folder.iterdir() if p.is_file() and p.name != MANIFEST}
    listed = {name.casefold() for name in manifest}
    for name in sorted(n for n in on_disk if n.casefold() not in listed):
        warnings.append(f"{name} is not in the manifest: ignored")
    loaded: list[_LoadedFile] = []
    delivered: dict[str, str] = {}  # entity file name -> the manifest's name for it
    for name, spec in manifest.items():
        entity = by_file.get(name.casefold())
        if entity is None:
            warnings.append(f"{name} is not a {delivery.department} entity of the contract: "
                            "ignored")
            continue
        if entity.file_name in delivered:
            raise DeliveryRejected(f"{MANIFEST} lists {delivered[entity.file_name]} and {name}: "
                                   f"two files for {entity.file_name}")
        delivered[entity.file_name] = name
        path = delivery.folder / name
        if not path.is_file():
            found = sorted(n for n in on_disk if n.casefold() == name.casefold())
            if len(found) != 1:
                raise DeliveryRejected(f"{name} is listed in the manifest but missing")
            path = delivery.folder / found[0]
        if path.name != entity.file_name:
            warnings.append(f"{path.name} read as {entity.file_name}")
        relative = path.relative_to(paths.landing).as_posix()
        if entity.fmt != "parquet" and spec.encoding is not None \
                and not known_encoding(spec.encoding):
            raise DeliveryRejected(f"{MANIFEST}: file {name} has an unknown encoding "
                                   f"{spec.encoding!r}")
        try:
            parsed = read_file(path, entity, spec.encoding or entity.encoding)
        except FileRejected as exc:
            raise DeliveryRejected(f"{name} {exc}") from None
        empty = not parsed.columns and not parsed.rows_found  # an empty file (readers.py)
        missing_required = [c for c in entity.required if c not in parsed.columns]
        if missing_required and not empty:
            raise DeliveryRejected(f"{name}: required column {', '.join(missing_required)} "
                                   "is missing")
        if parsed.rows_found != spec.rows:
            hint = _open_quote_hint(parsed, spec.rows)
            raise DeliveryRejected(f"{name}: manifest says {spec.rows} rows, "
                                   f"found {parsed.rows_found}{hint}")
        warnings += [f"{name}: {note}" for note in parsed.notes]
        extra = [c for c in parsed.columns if c not in entity.columns]
        if extra:
            warnings.append(f"{name}: unknown extra column(s) {', '.join(extra)} "
                            "loaded as strings")
        absent = [c for c in entity.columns if c not in parsed.columns]
        if absent and not empty:
            warnings.append(f"{name}: column(s) {', '.join(absent)} absent, loaded as NULL")
        if parsed.quarantined:
            warnings.append(f"{name}: {len(parsed.quarantined)} of {spec.rows} rows quarantined")
        loaded.append(_LoadedFile(entity, relative, parsed))
    if manifest and not loaded:
        # rows were promised, none of them in a file of the contract: nothing to load is not a
        # delivery that loaded
        expected = ", ".join(e.file_name for e in entities_of(delivery.department))
        raise DeliveryRejected(f"{MANIFEST} lists {', '.join(sorted(manifest))}: no "
                               f"{delivery.department} file of the contract ({expected})")
    for entity in entities_of(delivery.department):
        if entity.file_name not in delivered:
            warnings.append(f"{entity.file_name} not delivered")
    return loaded


def _open_quote_hint(parsed, expected: int) -> str:
    """Why a CSV may hold fewer rows than its manifest says when some line had undecodable
    bytes: such a line is set aside whole (decode.py), so if it held the closing quote of a
    quoted value, the quote stays open and the value takes in the lines after it."""
    rows = [q.row_number for q in parsed.quarantined
            if q.reason.startswith("undecodable bytes")]
    if not rows or parsed.rows_found >= expected:
        return ""
    return (f" (row {rows[0]} has undecodable bytes; a line holding them is set aside whole, "
            "so if it closed a quoted value, the quote stayed open and the rows after it were "
            "read into that value)")


def _constant(value, kind: pa.DataType, n: int) -> pa.Array:
    return pa.array([value], kind).take(pa.array(np.zeros(n, dtype=np.int64)))


def _lineage(table: pa.Table, entity: Entity, delivery: LandedDelivery, relative: str,
             row_numbers: np.ndarray, loaded_at: datetime) -> pa.Table:
    n = table.num_rows
    table = table.append_column("_department", _constant(entity.department, pa.string(), n))
    table = table.append_column("_entity", _constant(entity.name, pa.string(), n))
    table = table.append_column("_extract_date", _constant(delivery.extract_date, pa.date32(), n))
    table = table.append_column("_source_file", _constant(relative, pa.string(), n))
    table = table.append_column("_row_number", pa.array(row_numbers, pa.int64()))
    return table.append_column("_loaded_at", _constant(loaded_at, pa.timestamp("us"), n))


def _data_table(file: _LoadedFile) -> pa.Table:
    """Contract columns in contract order (absent ones NULL), then unknown extras."""
    table, n = file.parsed.table, file.parsed.table.num_rows
    names = list(file.entity.columns) + [c for c in file.parsed.columns
                                         if c not in file.entity.columns]
    arrays = [table.column(c) if c in table.column_names else pa.nulls(n, pa.string())
              for c in names]
    return pa.table(arrays, names=names) if names else pa.table({})


def _quarantine_table(file: _LoadedFile, delivery: LandedDelivery,
                      loaded_at: datetime) -> pa.Table:
    rows = file.parsed.quarantined
    n = len(rows)
    table = pa.table({
        "_department": _constant(file.entity.department, pa.string(), n),
        "_entity": _constant(file.entity.name, pa.string(), n),
        "_extract_date": _constant(delivery.extract_date, pa.date32(), n),
        "_source_file": _constant(file.relative, pa.string(), n),
        "_row_number": pa.array([q.row_number for q in rows], pa.int64()),
        "reason": pa.array([f"{file.relative} row {q.row_number}: {q.reason}" for q in rows],
                           pa.string()),
        "raw_text": pa.array([q.raw_text for q in rows], pa.string()),
        "_loaded_at": _constant(loaded_at, pa.timestamp("us"), n),
    })
    return table.cast(store.QUARANTINE_SCHEMA)


def _publish(paths: Paths, delivery: LandedDelivery, files: list[_LoadedFile],
             loaded_at: datetime) -> None:
    """Stage every file of the delivery, then rename them all into place; then drop what an
    earlier version of this delivery left that this one does not replace."""
    staged: list[tuple[Path, Path]] = []
    try:
        for file in files:
            data = _lineage(_data_table(file), file.entity, delivery, file.relative,
                            file.parsed.row_numbers, loaded_at)
            target = store.raw_file(paths, file.entity, delivery.extract_date)
            staged.append((store.stage_parquet(data, target), target))
            if file.parsed.quarantined:
                target = store.quarantine_file(paths, file.entity, delivery.extract_date)
                staged.append((store.stage_parquet(
                    _quarantine_table(file, delivery, loaded_at), target), target))
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    written = {target for _, target in staged}
    for entity in entities_of(delivery.department):
        for stale in (store.raw_file(paths, entity, delivery.extract_date),
                      store.quarantine_file(paths, entity, delivery.extract_date)):
            if stale not in written:
                stale.unlink(missing_ok=True)
