"""Write macros/cleaning/_char_maps.sql: the translate() strings that fold characters in SQL.

Two maps, each a pair of equally long strings for `translate(text, from, to)`:

- width: full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space (U+3000) to their
  half-width forms, tabs, no-break, typographic and zero-width spaces to a space, plus the
  bracket forms NFKC leaves alone (【】〔〕〖〗［］ and the full-width ones) to `(` and `)`;
- t2s: traditional to simplified Chinese, one character to one character, taken from the
  single-character table of opencc-python-reimplemented (TSCharacters.txt, first candidate;
  a character that is one of its own candidates, such as 乾, is left as it is).

translate() costs time in proportion to the length of its map on every row (DuckDB rebuilds the
map per call: ~12 microseconds per 100 characters), so the full 2,700-character t2s map must not
run on every row. The models therefore guard it with a regex character class (cheap: RE2 and
java.util.regex compile the class once) and use tiers: t2s_1 holds the most frequent traditional
characters (ranked by their frequency in OpenCC's STPhrases.txt traditional phrases), t2s_2 the
next ones, t2s_3 the rest; a row only pays for the smallest cumulative map that covers it.

Characters that a SQL string literal would need escaping on some engine (quote, backslash) and
characters outside the Basic Multilingual Plane are left out so that the same literal works on
DuckDB and Spark. Run `python -m tiering.tools.gen_char_maps` after upgrading OpenCC; the output
is committed and `tests/test_staging.py` checks it is up to date.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import opencc

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_OUT = PROJECT_DIR / "macros" / "cleaning" / "_char_maps.sql"
UNSAFE = {"'", "\\", "{", "}", "%", "#"}  # SQL quoting and Jinja delimiters stay out of literals
BRACKETS = {"【": "(", "】": ")", "〔": "(", "〕": ")", "〖": "(", "〗": ")", "［": "(", "］": ")",
            "[": "(", "]": ")"}


def _safe(char: str) -> bool:
    return char not in UNSAFE and ord(char) <= 0xFFFF


def width_map() -> dict[str, str]:
    """Full-width to half-width, ideographic space to space, every bracket form to ()."""
    mapping = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
    mapping["\u3000"] = " "
    # Other white space an export leaves in a value: a tab (Excel's "keep as text" guard before
    # a date or a code), the no-break and typographic spaces, and the zero-width characters a
    # copy from a web page or a word processor carries. Mapped to a space, they are trimmed at
    # the ends and removed inside names and codes as a space is.
    for code in (0x09, 0xA0, *range(0x2000, 0x200E), 0x202F, 0x205F, 0x2060, 0xFEFF):
        mapping[chr(code)] = " "
    mapping.update(BRACKETS)
    return {k: v for k, v in sorted(mapping.items()) if k != v and _safe(k) and _safe(v)}


def t2s_map(table: Path | None = None) -> dict[str, str]:
    """Traditional to simplified, single characters only, first candidate of OpenCC's table."""
    table = table or Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    mapping: dict[str, str] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, targets = line.split("\t", 1)
        target = targets.split()[0]
        # A character that is also one of its own candidates is a simplified character too
        # (乾 of 乾坤 and of names such as 乾元, 于 / 於, 征 / 徵): it is kept as typed, since a
        # single-character map cannot tell its senses apart and names use it as it is.
        if source in targets.split():
            continue
        if len(source) == 1 and len(target) == 1 and source != target:
            if _safe(source) and _safe(target):
                mapping[source] = target
    return dict(sorted(mapping.items()))


# Traditional characters frequent in company names, places and surnames: ranked first whatever
# their phrase-table frequency (STPhrases is biased towards ambiguous characters).
COMPANY_VOCABULARY = (
    "業實資貿產電氣華國東廣區開團設營務銷術機車線網絡醫藥療環輸運農糧鋼鐵礦築裝飾橋園藝發經緯"
    "門會計師學體育億達興盛豐隆濟點廈蘇陽陝遼寧龍黃鄭楊劉陳張飛雲鳳鴻麗寶聯與為總廠場壓創際優"
    "兩長標條識質應雙異顧問諮詢訊證財險擔貸勞動傳媒視聽數據軟儀錶纜紡織綠鏈儲倉貨報關進檢測驗"
    "認濱灣滬粵閩贛魯豫鄂湘渝黔滇隴韓倫羅邁蘭鑫輛項審評權極競價值傑偉濤鈞鋒瀾聖澤潤匯溫湯臺"
    "門戶規劃專線領導鎮縣鄉莊灣島嶺園館閣樓層廳衛護養託購買賣貿換協辦處屬產權責鑒證書畫"
)
TIER_SIZES = (200, 800)  # cumulative sizes of t2s_1 and t2s_2; t2s_3 is the whole map


def t2s_ranked(t2s: dict[str, str], phrases: Path | None = None) -> list[str]:
    """Traditional characters, most frequent first (frequency in OpenCC's traditional phrases)."""
    phrases = phrases or Path(opencc.__file__).parent / "dictionary" / "STPhrases.txt"
    counts: Counter[str] = Counter()
    for line in phrases.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            for target in line.split("\t", 1)[1].split():
                counts.update(ch for ch in target if ch in t2s)
    boosted = set(COMPANY_VOCABULARY)
    return sorted(t2s, key=lambda ch: (ch not in boosted, -counts[ch], ch))


def render(width: dict[str, str], t2s: dict[str, str]) -> str:
    def pair(name: str, mapping: dict[str, str], doc: str) -> str:
        src, dst = "".join(mapping), "".join(mapping.values())
        return (
            f"{{#- {doc} ({len(mapping)} characters). -#}}\n"
            f"{{% macro char_map_{name}_from() %}}{src}{{% endmacro %}}\n"
            f"{{% macro char_map_{name}_to() %}}{dst}{{% endmacro %}}\n"
        )

    def chars(name: str, text: str, doc: str) -> str:
        return f"{{#- {doc} -#}}\n{{% macro char_map_{name}() %}}{text}{{% endmacro %}}\n"

    ranked = t2s_ranked(t2s)
    bounds = (0, *TIER_SIZES, len(ranked))
    width_class = "".join(c for c in width if c not in "[]") + "\\[\\]"
    text = (
        "{#- GENERATED by `python -m tiering.tools.gen_char_maps`: do not edit by hand. -#}\n"
        + pair("width", width, "Full-width and bracket forms to half-width ASCII and ()")
        + chars("width_class", width_class, "Regex class body: any character of the width map")
        + pair("t2s", t2s, "Traditional to simplified Chinese, from OpenCC TSCharacters.txt")
    )
    for tier in (1, 2, 3):
        cumulative = {c: t2s[c] for c in ranked[: bounds[tier]]}
        new = "".join(ranked[bounds[tier - 1]: bounds[tier]])
        text += pair(f"t2s_{tier}", cumulative, f"t2s tier {tier}: the {bounds[tier]} most "
                     "frequent traditional characters (cumulative)")
        text += chars(f"t2s_{tier}_new", new, f"Regex class body: characters new in tier {tier}")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    text = render(width_map(), t2s_map())
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
