"""Files exactly as departments deliver them: CSV (UTF-8, GBK, UTF-8 with BOM), JSON Lines and
Parquet, with a few rows broken beyond repair, and the `_manifest.json` that completes a delivery.
Whole buffers are encoded at once; broken rows are spliced in by byte offsets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tiering.contract import Entity


def _line_spans(data: bytes, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before the newline) byte offsets of each line after `skip`."""
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], nl[:-1] + 1])
    return starts[skip:], nl[skip:]


def _splice(data: bytes, spans: list[tuple[int, int, bytes]]) -> bytes:
    """Replace data[start:end] by new bytes for each (start, end, new), spans sorted."""
    out, pos = [], 0
    for start, end, new in spans:
        out += [data[pos:start], new]
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def break_csv_rows(data: bytes, rows: np.ndarray, kinds: np.ndarray) -> bytes:
    """Rows (0-based data rows) broken beyond repair. kind 0: an extra column; kind 1: bytes no
    GBK or UTF-8 decoder accepts, inside the second (quoted) field (garbled name, key intact)."""
    if len(rows) == 0:
        return data
    starts, ends = _line_spans(data, skip=1)
    spans = []
    for row, kind in sorted(zip(rows.tolist(), kinds.tolist())):  # a handful of rows
        s, e = int(starts[row]), int(ends[row])
        line = data[s:e]
        if kind == 1:
            cut = line.find(b'","') + 3 if b'","' in line else 1  # inside the 2nd field
            new = line[:cut] + b"\xff\xff" + line[cut:]
        else:
            new = line + b',"#"'
        spans.append((s, e, new))
    return _splice(data, spans)


def break_jsonl_rows(data: bytes, rows: np.ndarray) -> bytes:
    """Malformed JSON lines: the closing brace is lost."""
    if len(rows) == 0:
        return data
    starts, ends = _line_spans(data, skip=0)
    spans = [(int(starts[r]), int(ends[r]), data[int(starts[r]): int(ends[r]) - 1])
             for r in sorted(rows.tolist())]
    return _splice(data, spans)


def _broken(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    if n == 0 or rate <= 0:
        return np.empty(0, dtype=np.int64)
    k = rng.binomial(n, rate)
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


def _json_value(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """JSON text of each value of an Arrow column (strings, integers, floats, booleans)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_string(t):
        text = col
        if pc.any(pc.match_substring_regex(col, r'["\\]')).as_py():
            text = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_boolean(t):
        text = pc.if_else(col, "true", "false")
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        text = pc.cast(col, pa.string())
    else:
        raise TypeError(f"no JSON text for {t}")
    return pc.fill_null(text, "null")


def json_lines(table: pa.Table) -> bytes:
    """JSON Lines, UTF-8, one object per row with the table's columns in order, built with
    vectorised string kernels."""
    if table.num_rows == 0:
        return b""
    parts: list = []
    for i, name in enumerate(table.column_names):
        parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":",
                  _json_value(table.column(i))]
    parts.append("}\n")
    args = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    lines = pc.binary_join_element_wise(*args, "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    # the values buffer of a string array is all its strings back to back
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:]
    start, end = int(offsets[0]), int(offsets[len(lines)])
    return lines.buffers()[2].to_pybytes()[start:end]


def write_entity(folder: Path, entity: Entity, table: pa.Table, rng: np.random.Generator,
                 broken_rate: float) -> dict:
    """Write one entity's file of a delivery; returns its manifest entry."""
    assert tuple(table.column_names) == entity.columns, (entity.name, table.column_names)
    path = folder / entity.file_name
    n = table.num_rows
    broken = _broken(rng, n, broken_rate) if entity.fmt != "parquet" else np.empty(0, int)
    if entity.fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        data = buf.getvalue()
        if entity.encoding == "gbk":
            data = data.decode("utf-8").encode("gbk")
            kinds = rng.integers(0, 2, len(broken))
        else:
            kinds = np.zeros(len(broken), dtype=np.int64)
        data = break_csv_rows(data, broken, kinds)
        if entity.encoding == "utf-8-sig":
            data = b"\xef\xbb\xbf" + data
        path.write_bytes(data)
    elif entity.fmt == "jsonl":
        data = json_lines(table)
        path.write_bytes(break_jsonl_rows(data, broken) if len(broken) else data)
    else:
        pq.write_table(table, path, compression="zstd")
    return {"rows": n, "encoding": entity.encoding}


def write_manifest(folder: Path, department: str, extract_date: str, files: dict) -> None:
    manifest = {"department": department, "extract_date": extract_date, "files": files}
    (folder / "_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                           encoding="utf-8")
