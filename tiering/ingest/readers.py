"""One delivered file to a table of strings, row numbers and quarantined rows.

Every reader returns a `ParsedFile`: the usable rows as a pyarrow table with one string column per
column found in the file (CSV header, JSON keys, Parquet schema), their 1-based data row numbers,
and the rows that could not be used, each with a reason and its raw text. `rows_found` (usable +
quarantined) is what the manifest's row count is checked against.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tiering.contract import Entity
from tiering.ingest.decode import Decoded, codec_of, decode_lines, strip_bom
from tiering.ingest.rules import invalid_rows


class FileRejected(ValueError):
    """The file as a whole is unusable (unreadable, no header, duplicate columns ...)."""


@dataclass
class Quarantined:
    row_number: int
    reason: str
    raw_text: str


@dataclass
class ParsedFile:
    columns: list[str]
    table: pa.Table  # usable rows, string columns named `columns`
    row_numbers: np.ndarray  # int64, 1-based data row (JSONL: line) number of each usable row
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def rows_found(self) -> int:
        return self.table.num_rows + len(self.quarantined)


def read_file(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    reader = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}[entity.fmt]
    parsed = reader(path, entity, encoding)
    return _quarantine_invalid(parsed, entity)


# --------------------------------------------------------------------------------------- CSV
def _is_utf8_error(exc: pa.ArrowInvalid) -> bool:
    return "utf8" in str(exc).lower() or "utf-8" in str(exc).lower()


def _parse_csv(data: bytes, names: list[str], threads: bool, delimiter: str = ",",
               quoting: bool = True, empty_lines: bool = True) -> tuple[pa.Table, list]:
    invalid: list = []

    def handler(row: pcsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    table = pcsv.read_csv(
        io.BytesIO(data),
        read_options=pcsv.ReadOptions(column_names=names, use_threads=threads,
                                      skip_rows=1 if quoting else 0, block_size=1 << 22),
        parse_options=pcsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"' if quoting else False,
            double_quote=quoting,
            escape_char=False,
            newlines_in_values=quoting,
            ignore_empty_lines=empty_lines,
            invalid_row_handler=handler,
        ),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=quoting,
            null_values=[""] if quoting else [],
            quoted_strings_can_be_null=True,
        ),
    )
    return table, invalid


def _decoded(path: Path, encoding: str, force_lines: bool) -> Decoded:
    data = strip_bom(path.read_bytes())
    codec = codec_of(encoding)
    if codec == "utf-8" and not force_lines:
        return Decoded(data)  # the parser validates UTF-8 itself; decode_lines only if it fails
    return decode_lines(data, codec)


def _parse_with_fallback(path: Path, encoding: str, parse) -> tuple[Decoded, pa.Table, list]:
    """Parse on one thread: only then does the parser report the line number of a broken row,
    so a file with a few broken rows is parsed once, not twice; deliveries are read in parallel
    processes instead (tiering/ingest/run.py)."""
    decoded = _decoded(path, encoding, force_lines=False)
    try:
        return (decoded, *parse(decoded.utf8, False))
    except pa.ArrowInvalid as exc:
        if not _is_utf8_error(exc):
            raise FileRejected(f"cannot be parsed: {exc}") from None
    decoded = _decoded(path, encoding, force_lines=True)
    return (decoded, *parse(decoded.utf8, False))


def _csv_header(data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode("utf-8").rstrip("\r")
    names = [name.strip() for name in next(csv.reader([first]), [])]
    if not names or names == [""]:
        raise FileRejected("has no header row")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FileRejected(f"header repeats column(s) {', '.join(duplicated)}")
    return names


def _physical_lines(data: bytes) -> int:
    """Lines in the buffer (a last line without a newline counts; a trailing newline does not)."""
    newlines = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A))
    return newlines + (1 if data and not data.endswith(b"\n") else 0)


def _csv_line_ordinals(table: pa.Table, invalid_lines: np.ndarray, invalid_spans: np.ndarray,
                       first_data_line: int, physical_lines: int | None = None,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Data row numbers of the usable rows and of the invalid rows, from the physical line numbers
    the parser reports for invalid rows. Usable rows may span lines (quoted newlines); when the
    file's line count shows that none does (`physical_lines`), the per-value scan is skipped."""
    spans = np.ones(table.num_rows, dtype=np.int64)
    one_line_rows = physical_lines is not None and physical_lines == (
        first_data_line - 1 + table.num_rows + int(invalid_spans.sum()))
    for column in ([] if one_line_rows else table.columns):
        spans += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(zero_copy_only=False)
    starts = first_data_line + np.concatenate(([0], np.cumsum(spans)[:-1]))
    order = np.argsort(invalid_lines, kind="stable")
    usable_before = np.empty(len(order), dtype=np.int64)  # usable rows before each invalid row
    shift = 0
    for k in order.tolist():  # once per invalid row
        usable_before[k] = np.searchsorted(starts, invalid_lines[k] - shift, side="left")
        shift += int(invalid_spans[k])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    invalid_rows_ = usable_before + rank + 1
    usable = np.arange(1, table.num_rows + 1, dtype=np.int64)
    usable += np.searchsorted(np.sort(usable_before), usable - 1, side="right")
    return usable, invalid_rows_


def _quarantine_parse_errors(invalid: list, decoded: Decoded, rows: np.ndarray,
                             encoding: str) -> list[Quarantined]:
    out: list[Quarantined] = []
    for row, number in zip(invalid, rows.tolist()):
        if row.number in decoded.bad_lines:
            out.append(Quarantined(number, f"undecodable bytes (not {encoding})",
                                   decoded.bad_lines[row.number]))
        else:
            out.append(Quarantined(
                number,
                f"wrong column count (expected {row.expected_columns}, "
                f"found {row.actual_columns})",
                row.text,
            ))
    return out


def read_csv(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    state: dict[str, list[str]] = {}

    def parse(data: bytes, threads: bool):
        state["names"] = _csv_header(data)
        return _parse_csv(data, state["names"], threads)

    decoded, table, invalid = _parse_with_fallback(path, encoding, parse)
    if 1 in decoded.bad_lines:
        raise FileRejected(f"header row has undecodable bytes (not {encoding})")
    names = state["names"]
    if not invalid:
        rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
        return ParsedFile(names, table, rows)
    # The single-threaded parse (see _parse_with_fallback) reports broken rows' line numbers.
    lines = np.array([row.number for row in invalid], dtype=np.int64)
    spans = np.array([1 + (row.text or "").count("\n") for row in invalid], dtype=np.int64)
    usable, broken = _csv_line_ordinals(table, lines, spans, first_data_line=2,
                                        physical_lines=_physical_lines(decoded.utf8))
    return ParsedFile(names, table, usable,
                      _quarantine_parse_errors(invalid, decoded, broken, encoding))


# ------------------------------------------------------------------------------------- JSONL
def read_jsonl(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    """Lines are split by the CSV parser (a JSON line holds no raw control character), then
    DuckDB's JSON functions check and extract every line at once. Numbers keep their value as
    DuckDB prints it (1.50 -> 1.5), booleans are true/false, arrays and objects JSON text."""

    def parse(data: bytes, threads: bool):
        return _parse_csv(data, ["line"], threads, delimiter="\x1f", quoting=False,
                          empty_lines=False)

    decoded, lines, invalid = _parse_with_fallback(path, encoding, parse)
    quarantined: list[Quarantined] = []
    if invalid:  # a raw \x1f in a line: never valid JSON
        bad = np.array([row.number for row in invalid], dtype=np.int64)
        total = lines.num_rows + len(bad)
        numbers = np.delete(np.arange(1, total + 1, dtype=np.int64), bad - 1)
        quarantined += [Quarantined(int(row.number), "not valid JSON", row.text or "")
                        for row in invalid]
    else:
        numbers = np.arange(1, lines.num_rows + 1, dtype=np.int64)
    lines = lines.append_column("line_number", pa.array(numbers))

    con = duckdb.connect()
    con.register("raw_lines", lines)
    con.execute("""
        create temp table json_lines as
        select
            line_number,
            line,
            case when json_valid(line) then json_type(line) = 'OBJECT' else false end
                as is_object
        from raw_lines
        where trim(line) <> ''
    """)
    keys = [row[0] for row in con.execute("""
        select key from (
            select distinct unnest(json_keys(line)) as key from json_lines where is_object
        ) order by key
    """).fetchall()]
    ordered = [c for c in entity.columns if c in keys]
    ordered += [k for k in keys if k not in entity.columns]
    paths = ", ".join("'$.\"" + k.replace('"', '\\"').replace("'", "''") + "\"'" for k in ordered)
    extracted = con.sql(f"""
        select
            line_number,
            line,
            {f"json_extract_string(line, [{paths}])" if ordered else "cast([] as varchar[])"}
                as vals
        from json_lines
        where is_object
        order by line_number
    """).to_arrow_table()
    broken = con.execute("""
        select line_number, line, json_valid(line) as is_json
        from json_lines where not is_object order by line_number
    """).fetchall()
    con.close()
    for number, line, is_json in broken:
        if number in decoded.bad_lines:
            quarantined.append(Quarantined(number, f"undecodable bytes (not {encoding})",
                                           decoded.bad_lines[number]))
        else:
            reason = "not a JSON object" if is_json else "not valid JSON"
            quarantined.append(Quarantined(number, reason, line))
    vals = extracted.column("vals")
    empty = pa.array([], pa.string())
    table = pa.table({k: pc.list_element(vals, i) if extracted.num_rows else empty
                      for i, k in enumerate(ordered)}) if ordered else pa.table({})
    table = _with_raw(table, extracted.column("line"))
    quarantined.sort(key=lambda q: q.row_number)
    return ParsedFile(ordered, table, extracted.column("line_number").to_numpy(), quarantined)


def _with_raw(table: pa.Table, raw: pa.ChunkedArray) -> pa.Table:
    """Keep the raw line next to the parsed fields until validation (dropped afterwards)."""
    if table.num_columns == 0:
        return pa.table({"__raw_text": raw})
    return table.append_column("__raw_text", raw)


# ----------------------------------------------------------------------------------- Parquet
def read_parquet(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    """Every column to text with DuckDB: dates YYYY-MM-DD, booleans true/false, lists JSON."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"is not a readable Parquet file: {exc}") from None
    names = list(schema.names)
    con = duckdb.connect()
    selects = []
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        kind = schema.field(name).type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind) \
                or pa.types.is_map(kind):
            selects.append(f"cast(to_json({quoted}) as varchar) as {quoted}")
        else:
            selects.append(f"cast({quoted} as varchar) as {quoted}")
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        table = con.sql(
            f"select {', '.join(selects + ['file_row_number + 1 as __row_number'])} "
            f"from read_parquet({literal}, file_row_number = true) order by file_row_number"
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise FileRejected(f"cannot be read: {exc}") from None
    finally:
        con.close()
    rows = table.column("__row_number").to_numpy().astype(np.int64)
    return ParsedFile(names, table.drop_columns(["__row_number"]), rows)


# -------------------------------------------------------------------------------- validation
def _raw_text(parsed: ParsedFile, entity: Entity, indices: np.ndarray) -> list[str]:
    subset = parsed.table.take(pa.array(indices))
    if "__raw_text" in subset.column_names:
        return subset.column("__raw_text").to_pylist()
    records = subset.select(parsed.columns).to_pylist()
    if entity.fmt == "csv":  # the row re-serialised as CSV (quoted newlines kept)
        out = []
        for record in records:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(
                ["" if v is None else v for v in record.values()])
            out.append(buffer.getvalue())
        return out
    return [json.dumps(record, ensure_ascii=False) for record in records]


def _quarantine_invalid(parsed: ParsedFile, entity: Entity) -> ParsedFile:
    indices, reasons = invalid_rows(parsed.table, entity)
    if len(indices):
        raw = _raw_text(parsed, entity, indices)
        numbers = parsed.row_numbers[indices]
        parsed.quarantined += [Quarantined(int(n), reason, text)
                               for n, (_, reason), text in zip(numbers, reasons, raw)]
        keep = np.ones(parsed.table.num_rows, dtype=bool)
        keep[indices] = False
        parsed.table = parsed.table.filter(pa.array(keep))
        parsed.row_numbers = parsed.row_numbers[keep]
        parsed.quarantined.sort(key=lambda q: q.row_number)
    if "__raw_text" in parsed.table.column_names:
        parsed.table = parsed.table.drop_columns(["__raw_text"])
    return parsed
