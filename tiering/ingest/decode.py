"""Bytes to UTF-8, losing nothing: lines that cannot be decoded are set aside, not guessed at.

The fast path decodes (or, for UTF-8, lets the parser validate) the whole file at once. Only when
that fails does `decode_lines` find the offending lines: it decodes with an error handler that
records byte offsets, maps offsets to line numbers with numpy, and replaces each bad line by a
sentinel the parsers reject (so later line numbers do not move). The bad line's raw text is kept
with backslash escapes for the undecodable bytes.
"""

from __future__ import annotations

import codecs
import threading
import unicodedata
from dataclasses import dataclass, field

import numpy as np

BOM = codecs.BOM_UTF8
# One field, no newline: a wrong column count for every CSV entity, invalid JSON for JSONL.
SENTINEL = b"\x00undecodable line\x00"
_ERROR_HANDLER = "tiering-ingest-record"
_local = threading.local()


# GBK files from Chinese systems are often GB18030 (its superset, China's mandatory standard):
# a rare character in a name (䶮, 𠈌) is then 2 or 4 bytes GBK has no mapping for. Such a
# sequence is read as GB18030 when it stands for a real character; a private-use code point
# (GBK's user-defined areas), a control character (stray bytes that happen to form a 4-byte
# sequence) and anything GB18030 rejects stay undecodable. Every byte sequence GBK itself
# decodes reads as before.
_GB18030_EXTENSION = "tiering-ingest-gb18030-extension"
_GB18030_RECORD = "tiering-ingest-gb18030-record"


def _gb18030_character(error: UnicodeDecodeError) -> tuple[str, int] | None:
    data = error.object
    for length in (2, 4):
        try:
            char = bytes(data[error.start:error.start + length]).decode("gb18030")
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and unicodedata.category(char) not in _NOT_TEXT:
            return char, error.start + length
    return None


# control, format, private-use, unassigned, surrogate: no character a name or a note would hold
_NOT_TEXT = {"Cc", "Cf", "Co", "Cn", "Cs"}


def _record(error: UnicodeDecodeError) -> tuple[str, int]:
    _local.offsets.append(error.start)
    return "\ufffd", error.end


def _extension(error: UnicodeDecodeError) -> tuple[str, int]:
    found = _gb18030_character(error)
    if found is None:
        raise error
    return found


def _extension_or_record(error: UnicodeDecodeError) -> tuple[str, int]:
    return _gb18030_character(error) or _record(error)


codecs.register_error(_ERROR_HANDLER, _record)
codecs.register_error(_GB18030_EXTENSION, _extension)
codecs.register_error(_GB18030_RECORD, _extension_or_record)


# Labels systems put on GBK files: GB2312 is a subset GBK extends (traditional characters, 堃 喆
# ...), CP936 is Windows' name for GBK; reading them as GBK loses nothing. A file labelled
# GB18030 is read the same way (GBK plus GB18030's characters beyond it, see above).
_GBK_LABELS = {"gb2312", "gb-2312", "cp936", "ms936", "windows-936", "euc-cn", "gb18030",
               "gb-18030"}


def codec_of(encoding: str) -> str:
    """Contract encodings (utf-8, utf-8-sig, gbk) to Python codecs; a BOM is stripped separately."""
    name = encoding.lower().replace("_", "-")
    if name in _GBK_LABELS:
        return "gbk"
    return "utf-8" if name in {"utf-8-sig", "utf8-sig", "utf8"} else name


def strip_bom(data: bytes) -> bytes:
    return data[len(BOM):] if data.startswith(BOM) else data


@dataclass
class Decoded:
    utf8: bytes
    # physical line number (1-based, the header of a CSV is line 1) -> raw text of the bad line
    bad_lines: dict[int, str] = field(default_factory=dict)


def decode_lines(data: bytes, codec: str) -> Decoded:
    """Decode `data`; lines holding undecodable bytes become SENTINEL, the rest UTF-8."""
    _local.offsets = []
    gbk = codec == "gbk"
    try:
        text = data.decode(codec, errors=_GB18030_RECORD if gbk else _ERROR_HANDLER)
        offsets = _local.offsets
    finally:
        _local.offsets = []
    if not offsets:
        return Decoded(text.encode("utf-8") if codec != "utf-8" else data)
    strict = _GB18030_EXTENSION if gbk else "strict"
    del text
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    bad_index = np.unique(np.searchsorted(newlines, np.asarray(offsets), side="left"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    pieces: list[bytes] = []
    bad_lines: dict[int, str] = {}
    cursor = 0
    for index in bad_index.tolist():  # one iteration per bad line, not per row
        start, end = int(starts[index]), int(ends[index])
        line = data[start:end].rstrip(b"\r")
        bad_lines[index + 1] = line.decode(codec, errors="backslashreplace")
        pieces += [data[cursor:start], SENTINEL]
        cursor = end
    pieces.append(data[cursor:])
    clean = b"".join(pieces)
    return Decoded(clean.decode(codec, errors=strict).encode("utf-8") if codec != "utf-8"
                   else clean, bad_lines)
