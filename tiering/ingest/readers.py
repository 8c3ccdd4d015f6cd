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
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tiering.contract import LIST_COLUMNS, Entity
from tiering.ingest.decode import BOM, SENTINEL, Decoded, codec_of, decode_lines, strip_bom
from tiering.ingest.rules import invalid_rows


class FileRejected(ValueError):
    """The file as a whole is unusable (unreadable, no header, duplicate columns ...)."""


@dataclass
class Quarantined:
    row_number: int
    reason: str
    raw_text: str


UNNAMED = "_column_"  # + 1-based position: a CSV header field left empty


@dataclass
class ParsedFile:
    columns: list[str]
    table: pa.Table  # usable rows, string columns named `columns`
    row_numbers: np.ndarray  # int64, 1-based data row (JSONL: line) number of each usable row
    quarantined: list[Quarantined] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings for the ingestion summary

    @property
    def rows_found(self) -> int:
        return self.table.num_rows + len(self.quarantined)


def read_file(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    reader = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}[entity.fmt]
    if entity.fmt != "parquet" and _is_empty(path):
        # a month without new rows: JSON Lines has no line at all, and some CSV exporters write
        # no header either; the manifest's row count (0) is still checked
        return ParsedFile([], pa.table({}), np.zeros(0, dtype=np.int64),
                          notes=["empty file: no rows"])
    note = None
    if entity.fmt != "parquet" and codec_of(encoding) != "utf-8":
        with path.open("rb") as handle:
            if handle.read(len(BOM)) == BOM:
                # saved as "CSV UTF-8" (Excel) although GBK is declared: read as GBK, its Chinese
                # would turn into other Chinese characters without a single decoding error
                note = f"starts with a UTF-8 byte order mark: read as UTF-8, not {encoding}"
                encoding = "utf-8"
    parsed = reader(path, entity, encoding)
    parsed.notes += [note] if note else []
    return _quarantine_invalid(_contract_names(parsed, entity), entity)


def _is_empty(path: Path) -> bool:
    """No byte but a byte order mark and white space (read in full only when it is small)."""
    if path.stat().st_size > 4096:
        return False
    return not strip_bom(path.read_bytes()).strip()


def contract_name(name: str, entity: Entity) -> str:
    """The contract's column a delivered name stands for: the name itself, or the contract
    column it spells in another case or width, with spaces or dashes for underscores
    (`Client_Name`, `CLIENT NAME`, `ｃｌｉｅｎｔ＿ｎａｍｅ` for client_name); else the name."""
    if name in entity.columns:
        return name
    folded = unicodedata.normalize("NFKC", name).strip().casefold()
    folded = "_".join(folded.replace("-", " ").replace("_", " ").split())
    return folded if folded in entity.columns else name


def _contract_names(parsed: ParsedFile, entity: Entity) -> ParsedFile:
    """Columns renamed to the contract's spelling (with a note). When the file also has the
    column under the contract's own name, the other spelling is kept apart as an extra column
    named `<name> (duplicate of <column>)`: engines that match names case-insensitively
    (DuckDB, Spark) could not tell the two apart."""
    renamed = []
    for name in list(parsed.columns):
        target = contract_name(name, entity)
        if target == name:
            continue
        if target in parsed.columns:
            apart = f"{name} (duplicate of {target})"
            parsed.columns[parsed.columns.index(name)] = apart
            renamed.append((name, apart))
        else:
            parsed.columns[parsed.columns.index(name)] = target
            renamed.append((name, target))
    if renamed:
        mapping = dict(renamed)
        parsed.table = parsed.table.rename_columns(
            [mapping.get(c, c) for c in parsed.table.column_names])
        parsed.notes += [f"column {old!r} read as {new}" for old, new in renamed]
    return parsed


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
        # Invalid UTF-8 fails the parse too when it sits in a row with a wrong column count
        # (pyarrow cannot hand that row's text to the handler), so any error of the fast path
        # is retried once the undecodable lines are set aside.
        if decoded.bad_lines or codec_of(encoding) != "utf-8":
            raise FileRejected(f"cannot be parsed: {exc}") from None
        first_error = exc
    decoded = _decoded(path, encoding, force_lines=True)
    if not decoded.bad_lines and not _is_utf8_error(first_error):
        raise FileRejected(f"cannot be parsed: {first_error}")
    try:
        return (decoded, *parse(decoded.utf8, False))
    except pa.ArrowInvalid as exc:
        raise FileRejected(f"cannot be parsed: {exc}") from None


def _csv_header(data: bytes) -> list[str]:
    # the first line ends at LF, CRLF or a lone CR (a CSV saved by Excel for Mac: CR only)
    end = re.search(rb"[\r\n]", data)
    first = (data if end is None else data[:end.start()]).decode("utf-8")
    try:
        names = [name.strip() for name in next(csv.reader([first]), [])]
    except csv.Error as exc:
        raise FileRejected(f"header row cannot be parsed: {exc}") from None
    if not names or names == [""]:
        raise FileRejected("has no header row")
    # a column without a name (a delimiter at the end of every line, as some exports write)
    names = [name or f"{UNNAMED}{position}" for position, name in enumerate(names, start=1)]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FileRejected(f"header repeats column(s) {', '.join(duplicated)}")
    return names


_SENTINEL_TEXT = SENTINEL.decode("utf-8")


def _sentinel_count(values: list[str | None]) -> int:
    return sum((v or "").count(_SENTINEL_TEXT) for v in values)


def _csv_rows(table: pa.Table, invalid: list, decoded: Decoded, names: list[str],
              encoding: str) -> ParsedFile:
    """Data row numbers and quarantined rows of a parsed CSV.

    pyarrow numbers the rows it reports as records, not lines: the header is 1, a quoted value
    spanning lines is one record, blank lines are not counted. So a broken row's data row number
    is its number - 1 and the usable rows hold the other numbers, in order.

    Lines with undecodable bytes were replaced by a sentinel before parsing (decode.py): on a line
    of its own it is a one-field row (a wrong column count); inside a quoted multi-line value it
    would parse as text, so usable rows holding it are quarantined as well. Sentinels occur in
    file order, so the k-th one stands for the k-th bad line."""
    if any(row.number is None or row.number < 2 for row in invalid):
        raise FileRejected("cannot be parsed: the CSV parser did not report broken rows' numbers")
    broken = np.array([row.number - 1 for row in invalid], dtype=np.int64)
    total = table.num_rows + len(invalid)
    usable = np.delete(np.arange(1, total + 1, dtype=np.int64), broken - 1)
    # (data row, sentinels in it, reason or None, raw text) for every row to quarantine
    found: list[tuple[int, int, str | None, str]] = []
    for row, number in zip(invalid, broken.tolist()):
        text = row.text or ""
        reason = None if _SENTINEL_TEXT in text else (
            f"wrong column count (expected {row.expected_columns}, found {row.actual_columns})")
        found.append((number, text.count(_SENTINEL_TEXT), reason, text))
    keep = np.ones(table.num_rows, dtype=bool)
    if decoded.bad_lines and table.num_rows:
        mask = np.zeros(table.num_rows, dtype=bool)
        for column in table.columns:
            mask |= pc.fill_null(pc.match_substring(column, _SENTINEL_TEXT), False).to_numpy(
                zero_copy_only=False)
        for index in np.flatnonzero(mask).tolist():  # rows hit by a bad line: a handful
            values = [table.column(c)[index].as_py() for c in names]
            found.append((int(usable[index]), _sentinel_count(values), None,
                          _csv_line(values)))
            keep[index] = False
    found.sort()
    bad_texts = [decoded.bad_lines[line] for line in sorted(decoded.bad_lines)]
    quarantined: list[Quarantined] = []
    for number, sentinels, reason, text in found:
        if reason is None:
            raw = [bad_texts.pop(0) if bad_texts else "" for _ in range(max(sentinels, 1))]
            for line in raw:
                text = text.replace(_SENTINEL_TEXT, line, 1)
            reason = f"undecodable bytes (not {encoding})"
        quarantined.append(Quarantined(number, reason, text))
    if not keep.all():
        table, usable = table.filter(pa.array(keep)), usable[keep]
    return ParsedFile(names, table, usable, quarantined)


def _csv_line(values: list[str | None]) -> str:
    """One row as CSV text; values holding a newline, quote or comma are quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()[:-2]


def read_csv(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    state: dict[str, list[str]] = {}

    def parse(data: bytes, threads: bool):
        state["names"] = _csv_header(data)
        return _parse_csv(data, state["names"], threads)

    decoded, table, invalid = _parse_with_fallback(path, encoding, parse)
    if 1 in decoded.bad_lines:
        raise FileRejected(f"header row has undecodable bytes (not {encoding})")
    parsed = _csv_rows(table, invalid, decoded, state["names"], encoding)
    return _drop_empty_unnamed(parsed)


def _drop_empty_unnamed(parsed: ParsedFile) -> ParsedFile:
    """A column with neither a name nor a value (a trailing delimiter) is dropped; one holding
    values stays, named `_column_<position>` (an extra column, loaded as text)."""
    for name in [c for c in parsed.columns if c.startswith(UNNAMED)]:
        if parsed.table.column(name).null_count == parsed.table.num_rows:
            parsed.table = parsed.table.drop_columns([name])
            parsed.columns.remove(name)
            parsed.notes.append(f"empty column without a name at position "
                                f"{name[len(UNNAMED):]} (a delimiter ending each line) dropped")
    return parsed


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
    table = _bare_nan_as_null(table, extracted.column("line"))
    table = _with_raw(table, extracted.column("line"))
    quarantined.sort(key=lambda q: q.row_number)
    return ParsedFile(ordered, table, extracted.column("line_number").to_numpy(), quarantined)


def _bare_nan_as_null(table: pa.Table, lines: pa.ChunkedArray) -> pa.Table:
    """A bare `NaN` (what Python's json.dumps writes for a float NaN, e.g. an unknown amount)
    is no value, as a Parquet float NaN is: NULL. The text `"NaN"` stays text (a number field
    holding it is quarantined as not a number), and so do `Infinity` and `-Infinity`."""
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        nan = pc.fill_null(pc.match_substring_regex(column, "^-?nan$", ignore_case=True), False)
        if not pc.any(nan).as_py():
            continue
        # the key as the line may spell it: raw UTF-8 or \u escapes
        keys = "|".join(re.escape(json.dumps(name, ensure_ascii=ascii)) for ascii in (False, True))
        bare = pc.fill_null(pc.match_substring_regex(lines, rf"(?:{keys})\s*:\s*-?NaN\b"), False)
        table = table.set_column(index, name, pc.if_else(
            pc.and_(nan, bare), pa.scalar(None, pa.string()), column))
    return table


def _with_raw(table: pa.Table, raw: pa.ChunkedArray) -> pa.Table:
    """Keep the raw line next to the parsed fields until validation (dropped afterwards)."""
    if table.num_columns == 0:
        return pa.table({"__raw_text": raw})
    return table.append_column("__raw_text", raw)


# ----------------------------------------------------------------------------------- Parquet
# The contract's clock is Beijing time (+08:00): an instant (timestamp with a time zone) becomes
# its Beijing wall-clock time with the offset, so a date written as local midnight stays that date.
BEIJING = "Asia/Shanghai"


def _text_list_as_json(quoted: str) -> str:
    """A list of strings delivered as text, as the JSON array the raw layer keeps: a JSON array
    as it is; blank as []; else split on ; ； , ， 、 | (blank parts dropped)."""
    return (f"case when {quoted} is null then null "
            f"when json_valid({quoted}) and json_type({quoted}) = 'ARRAY' then {quoted} "
            f"else cast(to_json(list_filter(list_transform("
            f"regexp_split_to_array({quoted}, '[;；,，、|]'), lambda part: trim(part)), "
            f"lambda part: part <> '')) as varchar) end")


def read_parquet(path: Path, entity: Entity, encoding: str) -> ParsedFile:
    """Every column to text with DuckDB: dates YYYY-MM-DD, timestamps YYYY-MM-DD HH:MM:SS (with
    +08:00 when the column holds instants), booleans true/false, lists JSON, a float NaN NULL
    (no value, as pandas writes a missing number)."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"is not a readable Parquet file: {exc}") from None
    names = list(schema.names)
    list_columns = LIST_COLUMNS.get((entity.department, entity.name), ())
    int96 = _int96_columns(path)
    con = duckdb.connect()
    selects = []
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        kind = schema.field(name).type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind) \
                or pa.types.is_map(kind):
            selects.append(f"cast(to_json({quoted}) as varchar) as {quoted}")
        elif contract_name(name, entity) in list_columns \
                and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            selects.append(f"{_text_list_as_json(quoted)} as {quoted}")
        elif pa.types.is_timestamp(kind) and kind.tz is not None:
            selects.append(f"cast(timezone('{BEIJING}', {quoted}) as varchar) || '+08:00' "
                           f"as {quoted}")
        elif name in int96:
            # Spark's and Hive's INT96 timestamps are instants stored in UTC (no zone in the
            # schema): a registry date written so at Beijing midnight reads 16:00 the day before
            selects.append(f"cast(timezone('{BEIJING}', timezone('UTC', {quoted})) as varchar)"
                           f" || '+08:00' as {quoted}")
        elif _is_binary(kind):
            selects.append(quoted)  # bytes: decoded as UTF-8 text below
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
    table = table.drop_columns(["__row_number"])
    notes = []
    for index, name in enumerate(names):
        # text some writers store as plain binary (no UTF-8 annotation): DuckDB would print its
        # bytes escaped (\xE5\xB9...); Parquet's text is UTF-8, so the bytes are decoded as such
        if _is_binary(schema.field(name).type):
            column = table.column(index)
            try:
                text = pc.cast(pc.cast(column, pa.large_binary()), pa.large_string())
            except pa.ArrowInvalid:
                raise FileRejected(f"column {name} is binary and not UTF-8 text") from None
            table = table.set_column(index, name, pc.cast(text, pa.string()))
            notes.append(f"column {name} stored as binary: read as UTF-8 text")
        # NaN to NULL on the text: DuckDB folds isnan() away when the file's column statistics
        # (which leave NaN out) say there is none
        if pa.types.is_floating(schema.field(name).type):
            column = table.column(index)
            nan = pc.match_substring_regex(column, "^-?nan$", ignore_case=True)
            table = table.set_column(index, name, pc.if_else(nan, pa.scalar(None, pa.string()),
                                                             column))
    return ParsedFile(names, table, rows, notes=notes)


def _int96_columns(path: Path) -> set[str]:
    """Top-level columns stored with Parquet's (deprecated) INT96 timestamp type."""
    schema = pq.ParquetFile(path).schema
    return {schema.column(i).path for i in range(len(schema))
            if schema.column(i).physical_type == "INT96" and "." not in schema.column(i).path}


def _is_binary(kind: pa.DataType) -> bool:
    return (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind))


# -------------------------------------------------------------------------------- validation
def _raw_text(parsed: ParsedFile, entity: Entity, indices: np.ndarray) -> list[str]:
    subset = parsed.table.take(pa.array(indices))
    if "__raw_text" in subset.column_names:
        return subset.column("__raw_text").to_pylist()
    records = subset.select(parsed.columns).to_pylist()
    if entity.fmt == "csv":  # the row re-serialised as CSV (quoted newlines kept)
        return [_csv_line(list(record.values())) for record in records]
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
