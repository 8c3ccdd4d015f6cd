"""Unified Social Credit Codes (GB 32100-2015), scalar checks and a vectorised generator.

A USCC is 18 characters: registration authority (1) + type (1) + admin division (6) + the
organisation code (8 body characters + its GB 11714 check character) + the USCC check character,
computed mod 31 over the alphabet 0-9 A-H J-N P-R T U W-Y (no I O Z S V).
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def _org_value(char: str) -> int:
    """GB 11714: digits are their value, letters A-Z are 10-35."""
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise ValueError(f"invalid organisation code character {char!r}")


def org_check_char(body8: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code body."""
    if len(body8) != 8:
        raise ValueError("organisation code body must have 8 characters")
    total = sum(_org_value(c) * int(w) for c, w in zip(body8, ORG_WEIGHTS))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character (18th) for the first 17 characters of a USCC."""
    if len(first17) != 17:
        raise ValueError("need the first 17 characters")
    try:
        total = sum(_VALUE[c] * int(w) for c, w in zip(first17.upper(), USCC_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC alphabet") from None
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """Both check characters pass (USCC mod 31 and the embedded organisation code)."""
    if len(code) != 18 or any(c not in _VALUE for c in code):
        return False
    try:
        return code[17] == uscc_check_char(code[:17]) and code[16] == org_check_char(code[8:16])
    except ValueError:
        return False


def generate_usccs(rng: np.random.Generator, admin_codes: np.ndarray) -> np.ndarray:
    """Valid, distinct USCCs (bytes 'S18' array), one per admin division code given ('S6')."""
    n = len(admin_codes)
    alpha = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    # organisation code body: 8 chars; a distinct serial makes codes unique, letters now and then
    stride = max(1, 10**8 // max(n, 1))  # distinct serials spread over the 8-digit space
    serial = rng.permutation(np.arange(n, dtype=np.int64) * stride + rng.integers(0, stride, n))
    body = np.empty((n, 8), dtype=np.int64)  # GB 11714 values
    rest = serial.copy()
    for pos in range(7, -1, -1):
        body[:, pos] = rest % 10
        rest //= 10
    # newer organisation codes start with a letter: M for half the serials starting with 0
    # (still unique: no numeric code starts with M)
    lettered = (body[:, 0] == 0) & (rng.random(n) < 0.5)
    body[lettered, 0] = 22  # GB 11714 value of M
    check = 11 - (body * ORG_WEIGHTS).sum(axis=1) % 11
    check_char = np.where(check == 10, ord("X"), np.where(check == 11, ord("0"), check + 48))
    body_chars = np.where(body < 10, body + 48, body - 10 + ord("A"))

    codes = np.empty((n, 18), dtype=np.uint8)
    codes[:, 0] = ord("9")  # 工商 (market regulation)
    codes[:, 1] = ord("1")  # enterprise
    codes[:, 2:8] = np.frombuffer(admin_codes.astype("S6").tobytes(), dtype=np.uint8).reshape(n, 6)
    codes[:, 8:16] = body_chars
    codes[:, 16] = check_char
    # USCC check over the first 17 characters, values in ALPHABET
    lut = np.full(256, -1, dtype=np.int64)
    lut[alpha] = np.arange(len(alpha))
    values = lut[codes[:, :17]]
    codes[:, 17] = alpha[(31 - (values * USCC_WEIGHTS).sum(axis=1) % 31) % 31]
    return codes.view("S18").ravel()
