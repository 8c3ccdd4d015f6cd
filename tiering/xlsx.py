"""A small, fast Excel (.xlsx, Office Open XML) writer for the refresh report's workbook.

openpyxl without lxml serialises every cell through a pure-Python XML tree (~5 s for the demo's
200,000 cells); this writes the same sheet XML as text, ~10x faster. What it supports is what the
report needs: one header row (frozen), then values: text (inline strings), numbers, booleans,
dates and timestamps (real Excel dates, shown as yyyy-mm-dd / yyyy-mm-dd hh:mm:ss); None is an
empty cell. openpyxl, Excel and LibreOffice read the result (tests/test_report.py).

A sheet's rows are either Python sequences (one value at a time) or a pyarrow
`RecordBatchReader` (a DuckDB query's `to_arrow_reader`): then each column's cells are built
at once with Arrow's string kernels, about 2x faster for the report's 50,000-row sheets
(docs/benchmarks.md); a column of a type those kernels do not cover (lists, structs, times)
goes value by value.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc

EXCEL_EPOCH = datetime(1899, 12, 30)
MAX_TEXT = 32_767
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
STYLE_DATE, STYLE_DATETIME, STYLE_HEADER = 1, 2, 3

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
<Default Extension="xml" ContentType="application/xml"/>\
<Override PartName="/xl/workbook.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
<Override PartName="/xl/styles.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
{sheets}</Types>"""
SHEET_TYPE = ('<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
              'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" \
Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" \
Target="xl/workbook.xml"/></Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
<sheets>{sheets}</sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
{sheets}<Relationship Id="rIdStyles" \
Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" \
Target="styles.xml"/></Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>\
<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>\
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>\
<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>"""
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
              '"http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              '<dimension ref="{dimension}"/><sheetViews>'
              '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
              'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text(value: str) -> str:
    return escape(_ILLEGAL.sub("", value[:MAX_TEXT]))


def cell_xml(ref: str, value: object) -> str:
    """One `<c>` element, or '' for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return ""
        text = repr(value) if isinstance(value, int) else repr(number)
        return f'<c r="{ref}"><v>{text}</v></c>'
    if isinstance(value, datetime):
        naive = value.replace(tzinfo=None)
        serial = (naive - EXCEL_EPOCH) / timedelta(days=1)
        return f'<c r="{ref}" s="{STYLE_DATETIME}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        serial = (value - EXCEL_EPOCH.date()).days
        return f'<c r="{ref}" s="{STYLE_DATE}"><v>{serial}</v></c>'
    text = value if isinstance(value, str) else str(value)
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_text(text)}</t></is></c>'


EXCEL_EPOCH_DAYS = 25_569  # 1970-01-01 as an Excel serial
_MICROS_PER_DAY = 86_400_000_000


def _join(*parts) -> pa.Array:
    """Concatenate strings element-wise (arrays and scalars); a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def _arrow_cells(column: pa.Array, letter: str, refs: pa.Array) -> pa.Array | None:
    """The `<c>` elements of one column, null for an empty cell, as cell_xml writes them; None
    when the column's type has no vectorised form here."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    ref = _join('<c r="', letter, refs, '"')
    if pa.types.is_boolean(kind):
        return _join(ref, ' t="b"><v>', pc.cast(pc.cast(column, pa.int8()), pa.string()),
                     "</v></c>")
    if pa.types.is_integer(kind):
        return _join(ref, "><v>", pc.cast(column, pa.string()), "</v></c>")
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        number = pc.cast(column, pa.float64())
        finite = pc.and_(pc.invert(pc.is_nan(number)), pc.invert(pc.is_inf(number)))
        number = pc.if_else(finite, number, pa.scalar(None, pa.float64()))
        return _join(ref, "><v>", pc.cast(number, pa.string()), "</v></c>")
    if pa.types.is_date(kind):
        days = pc.add(pc.cast(pc.cast(column, pa.date32()), pa.int32()), EXCEL_EPOCH_DAYS)
        return _join(ref, f' s="{STYLE_DATE}"><v>', pc.cast(days, pa.string()), "</v></c>")
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:  # the wall-clock time of its zone, as cell_xml keeps it
            column = pc.local_timestamp(column)
        micros = pc.cast(pc.cast(column, pa.timestamp("us"), safe=False), pa.int64())  # ns cut
        serial = pc.divide(pc.cast(pc.add(micros, EXCEL_EPOCH_DAYS * _MICROS_PER_DAY),
                                   pa.float64()), float(_MICROS_PER_DAY))
        return _join(ref, f' s="{STYLE_DATETIME}"><v>', pc.cast(serial, pa.string()), "</v></c>")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.utf8_slice_codeunits(pc.cast(column, pa.string()), 0, MAX_TEXT)
        text = pc.replace_substring_regex(text, _ILLEGAL.pattern, "")
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            text = pc.replace_substring(text, raw, escaped)
        return _join(ref, ' t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>")
    return None


def _batch_xml(batch: pa.RecordBatch, columns: list[str], first_row: int) -> str:
    """The `<row>` elements of one record batch, numbered from `first_row`."""
    refs = pc.cast(pa.array(range(first_row, first_row + batch.num_rows), pa.int64()),
                   pa.string())
    cells = []
    for j, column in enumerate(batch.columns):
        built = _arrow_cells(column, columns[j], refs)
        if built is None:  # value by value
            built = pa.array([cell_xml(f"{columns[j]}{first_row + i}", v) or None
                              for i, v in enumerate(column.to_pylist())], pa.string())
        cells.append(built)
    rows = pc.binary_join_element_wise('<row r="', refs, '">', *cells, "</row>", "",
                                       null_handling="replace", null_replacement="")
    return "".join(rows.to_pylist())


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique (case-insensitive)."""
    base = _SHEET_NAME_BAD.sub("_", name)[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base[:31 - len(str(n)) - 1]}~{n}"
    taken.add(candidate.lower())
    return candidate


Rows = Iterable[Sequence[object]] | pa.RecordBatchReader


def write_workbook(target: Path, sheets: Iterable[tuple[str, Sequence[str], Rows]]) -> None:
    """Write `target` with one sheet per (name, header, rows); rows are streamed (Python
    sequences, or record batches whose columns follow the header)."""
    names: list[str] = []
    taken: set[str] = set()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        for i, (name, header, rows) in enumerate(sheets, start=1):
            names.append(sheet_name(name, taken))
            # The <dimension> (which readers use for the sheet's size) precedes the rows: spool
            # the rows, then write the sheet.
            with tempfile.TemporaryFile() as body:
                columns = [column_letters(j) for j in range(len(header))]
                chunk = ['<row r="1">'] + [
                    f'<c r="{columns[j]}1" t="inlineStr" s="{STYLE_HEADER}"><is><t>'
                    f'{_text(str(title))}</t></is></c>' for j, title in enumerate(header)]
                chunk.append("</row>")
                last_row = 1
                if isinstance(rows, pa.RecordBatchReader):
                    body.write("".join(chunk).encode("utf-8"))
                    chunk = []
                    for batch in rows:
                        body.write(_batch_xml(batch, columns, last_row + 1).encode("utf-8"))
                        last_row += batch.num_rows
                    rows = ()
                for last_row, row in enumerate(rows, start=last_row + 1):
                    chunk.append(f'<row r="{last_row}">')
                    chunk.extend(cell_xml(f"{columns[j]}{last_row}", v)
                                 for j, v in enumerate(row))
                    chunk.append("</row>")
                    if len(chunk) > 20_000:
                        body.write("".join(chunk).encode("utf-8"))
                        chunk = []
                body.write("".join(chunk).encode("utf-8"))
                body.seek(0)
                extent = f"A1:{columns[-1] if columns else 'A'}{last_row}"
                with book.open(f"xl/worksheets/sheet{i}.xml", "w") as raw:
                    raw.write(SHEET_HEAD.format(dimension=extent).encode("utf-8"))
                    shutil.copyfileobj(body, raw, 1 << 20)
                    raw.write(SHEET_TAIL.encode("utf-8"))
        count = range(1, len(names) + 1)
        book.writestr("[Content_Types].xml", CONTENT_TYPES.format(
            sheets="".join(SHEET_TYPE.format(i=i) for i in count)))
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK.format(sheets="".join(
            f'<sheet name="{escape(n, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
            for i, n in zip(count, names))))
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(sheets="".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in count)))
        book.writestr("xl/styles.xml", STYLES)
