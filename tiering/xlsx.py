"""A small, fast Excel (.xlsx, Office Open XML) writer for the refresh report's workbook.

openpyxl without lxml serialises every cell through a pure-Python XML tree (~5 s for the demo's
200,000 cells); this writes the same sheet XML as text, ~10x faster. What it supports is what the
report needs: one header row (frozen), then values: text (inline strings), numbers, booleans,
dates and timestamps (real Excel dates, shown as yyyy-mm-dd / yyyy-mm-dd hh:mm:ss); None is an
empty cell. openpyxl, Excel and LibreOffice read the result (tests/test_report.py).
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


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique (case-insensitive)."""
    base = _SHEET_NAME_BAD.sub("_", name)[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base[:31 - len(str(n)) - 1]}~{n}"
    taken.add(candidate.lower())
    return candidate


def write_workbook(target: Path,
                   sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[object]]]]) -> None:
    """Write `target` with one sheet per (name, header, rows); rows are streamed."""
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
                for last_row, row in enumerate(rows, start=2):
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
