"""Vectorised text building on Arrow arrays: names, phones, numbers and dates in the formats
departments actually type. Nothing here loops over rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiering.simulate import vocab

EPOCH = np.datetime64("1970-01-01", "D")
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


def take(table: tuple[str, ...] | list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(table), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def cat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; plain str parts are broadcast."""
    arrays = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def where(mask: np.ndarray, a: pa.Array | str, b: pa.Array | str) -> pa.Array:
    sa = pa.scalar(a, pa.string()) if isinstance(a, str) else a
    sb = pa.scalar(b, pa.string()) if isinstance(b, str) else b
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), sa, sb)


def null_where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.nulls(len(values), values.type),
                      values)


def int_str(values: np.ndarray, width: int = 0) -> pa.Array:
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(out, width, "0") if width else out


def choice_str(values: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return take(values, idx)


# ---------------------------------------------------------------- numbers
def _group_thousands(int_part: np.ndarray) -> pa.Array:
    """Non-negative integers as text with thousands separators: 1234567 -> 1,234,567."""
    rest = np.asarray(int_part, dtype=np.int64)
    out = int_str(rest % 1000, 3)
    rest = rest // 1000
    while (rest > 0).any():
        more = rest > 0
        out = where(more, cat(int_str(rest % 1000, 3), ",", out), out)
        rest = rest // 1000
    out = pc.utf8_ltrim(out, "0")
    return pc.if_else(pc.equal(pc.utf8_length(out), 0), "0", pc.if_else(
        pc.starts_with(out, ","), pc.utf8_slice_codeunits(out, 1), out))


def fmt_decimal(values: np.ndarray, decimals: int = 2,
                thousands: np.ndarray | None = None) -> pa.Array:
    """Fixed-point text (1234567.89, -12.50); thousands separators where `thousands` is True."""
    scale = 10 ** decimals
    scaled = np.round(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    negative = scaled < 0
    mag = np.abs(scaled)
    int_part, frac = mag // scale, mag % scale
    plain = int_str(int_part)
    if thousands is not None and np.any(thousands):
        plain = where(thousands, _group_thousands(int_part), plain)
    text = cat(plain, ".", int_str(frac, decimals)) if decimals else plain
    return where(negative, cat("-", text), text)


# ---------------------------------------------------------------- dates
def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = EPOCH + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def fmt_date(days: np.ndarray, style: np.ndarray | int = 0) -> pa.Array:
    """Days since 1970-01-01 as text. Styles: 0 `2024-03-05`, 1 `2024/03/05`, 2 `2024/3/5`,
    3 `2024年3月5日`, 4 Excel serial `45356`."""
    y, m, d = ymd(days)
    ys, ms, ds = int_str(y), int_str(m), int_str(d)
    iso = cat(ys, "-", int_str(m, 2), "-", int_str(d, 2))
    if isinstance(style, int):
        style = np.full(len(y), style)
    if not np.any(style):
        return iso
    out = iso
    out = where(style == 1, cat(ys, "/", int_str(m, 2), "/", int_str(d, 2)), out)
    out = where(style == 2, cat(ys, "/", ms, "/", ds), out)
    out = where(style == 3, cat(ys, "年", ms, "月", ds, "日"), out)
    serial = (np.asarray(days, dtype=np.int64) + (EPOCH - EXCEL_EPOCH).astype(np.int64))
    return where(style == 4, int_str(serial), out)


def fmt_datetime(seconds: np.ndarray, sep: str = " ", suffix: str = "") -> pa.Array:
    """Seconds since 1970-01-01 (local time) as `YYYY-MM-DD HH:MM:SS` (sep 'T', suffix
    '+08:00' for ISO 8601)."""
    secs = np.asarray(seconds, dtype=np.int64)
    days, sod = np.divmod(secs, 86400)
    hh, rem = np.divmod(sod, 3600)
    mi, ss = np.divmod(rem, 60)
    return cat(fmt_date(days), sep, int_str(hh, 2), ":", int_str(mi, 2), ":", int_str(ss, 2),
               suffix)


def days_of(date64: np.ndarray) -> np.ndarray:
    return (np.asarray(date64).astype("datetime64[D]") - EPOCH).astype(np.int64)


# ---------------------------------------------------------------- phones
def fmt_mobile(numbers: np.ndarray, style: np.ndarray) -> pa.Array:
    """11-digit mobiles: 0 `13812345678`, 1 `138-1234-5678`, 2 `+86 138 1234 5678`,
    3 `138 1234 5678`."""
    s = int_str(numbers)
    a, b, c = (pc.utf8_slice_codeunits(s, 0, 3), pc.utf8_slice_codeunits(s, 3, 7),
               pc.utf8_slice_codeunits(s, 7, 11))
    out = where(style == 1, cat(a, "-", b, "-", c), s)
    out = where(style == 2, cat("+86 ", a, " ", b, " ", c), out)
    return where(style == 3, cat(a, " ", b, " ", c), out)


def fmt_landline(area_idx: np.ndarray, local: np.ndarray, style: np.ndarray) -> pa.Array:
    """Area code + 8-digit number: 0 `010-87654321`, 1 `(010)87654321`, 2 `01087654321`,
    3 `010 8765 4321`, 4 `+86-10-87654321`."""
    area = take([r[3] for r in vocab.REGIONS], area_idx)
    num = int_str(local, 8)
    out = where(style == 1, cat("(", area, ")", num), cat(area, "-", num))
    out = where(style == 2, cat(area, num), out)
    out = where(style == 3, cat(area, " ", pc.utf8_slice_codeunits(num, 0, 4), " ",
                                pc.utf8_slice_codeunits(num, 4, 8)), out)
    return where(style == 4, cat("+86-", pc.utf8_slice_codeunits(area, 1), "-", num), out)


def fmt_phone(is_mobile: np.ndarray, mobile: np.ndarray, area_idx: np.ndarray,
              local: np.ndarray, style: np.ndarray) -> pa.Array:
    return where(is_mobile, fmt_mobile(mobile, style % 4), fmt_landline(area_idx, local, style))


# ---------------------------------------------------------------- names
NAME_MESS = ("clean", "width", "region_bracket", "legal_form", "short", "space", "typo",
             "traditional", "former")


def render_names(region: np.ndarray, s1: np.ndarray, s2: np.ndarray, industry: np.ndarray,
                 legal: np.ndarray, bracketed: np.ndarray, mess: np.ndarray,
                 variant_pick: np.ndarray | None = None) -> pa.Array:
    """Company names from token indices. `bracketed`: the registered name has the region in
    brackets. `mess`: index into NAME_MESS ('former' is handled by the caller passing the former
    stem). `variant_pick` (0..1 floats) chooses sub-variants (which stem gets the typo, ...)."""
    t = vocab.tables()
    n = len(region)
    pick = variant_pick if variant_pick is not None else np.zeros(n)
    code = {name: i for i, name in enumerate(NAME_MESS)}
    trad = mess == code["traditional"]
    typo = mess == code["typo"]
    n_stem, n_reg, n_ind, n_leg = len(t["stem"]), len(t["region"]), len(t["industry"]), len(
        t["legal"])
    stems = t["stem"] + t["stem_trad"] + t["stem_typo"]
    st1 = take(stems, s1 + n_stem * np.where(trad, 1, np.where(typo & (pick < 0.5), 2, 0)))
    st2 = take(stems, s2 + n_stem * np.where(trad, 1, np.where(typo & (pick >= 0.5), 2, 0)))
    reg = take(t["region"] + t["region_trad"], region + n_reg * trad)
    ind = take(t["industry"] + t["industry_trad"], industry + n_ind * trad)
    legal_idx = np.where(mess == code["legal_form"], np.array(vocab.LEGAL_FORM_ALT)[legal], legal)
    leg = take(t["legal"] + t["legal_trad"], legal_idx + n_leg * trad)

    in_brackets = bracketed ^ (mess == code["region_bracket"])
    half = mess == code["width"]
    # the width mess on a name without brackets: a full-width space between stem and industry
    fw_space = half & ~in_brackets
    space = mess == code["space"]
    sp1 = where(space & (pick < 0.5) & ~in_brackets, " ", "")
    sp2 = where((space & ((pick >= 0.5) | in_brackets)), " ", where(fw_space, "\u3000", ""))
    opened = where(half, "(", "（")
    closed = where(half, ")", "）")
    prefix = where(in_brackets, "", reg)
    middle = where(in_brackets, cat(opened, reg, closed), "")
    full = cat(prefix, sp1, st1, st2, sp2, middle, ind, leg)
    return where(mess == code["short"], cat(st1, st2), full)
