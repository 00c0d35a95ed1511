"""Make the board's CJK web fonts: Noto Sans SC subset to GB2312 + our own strings, as WOFF2.

Run from the repository root with fontTools and brotli installed
(``pip install fonttools brotli``) and Debian's ``fonts-noto-cjk``::

    python assets/fonts/build_fonts.py

It writes ``NotoSansSC-Regular.woff2`` and ``NotoSansSC-Bold.woff2`` beside itself.
The subset holds every character of GB2312 (the 6,763 hanzi of everyday place and
personal names, punctuation, full-width forms), printable ASCII, the symbols the
board draws (Ⅰ–Ⅳ, ✓, Σ, arrows…), and any CJK character that appears in the
project's own source (generated place names use a few characters beyond GB2312,
such as 垌). Registry names beyond that fall back to the system's fonts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = {
    "Regular": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "Bold": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
}
SC_INDEX_NAME = "Noto Sans CJK SC"
EXTRA = "ⅠⅡⅢⅣⅤ✓✔✗✘Σ∑≠≈±×÷°℃‰•·—–…●○◆◇▲△▼▽■□★☆→←↑↓↗↘⚠⏱％"
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def gb2312() -> set[str]:
    """Every character GB2312 encodes."""
    out: set[str] = set()
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        out.add(ch)
    return out


def project_chars() -> set[str]:
    """CJK characters used in the project's Python sources (names pools, UI strings)."""
    out: set[str] = set()
    for pkg in ("command", "dashboard", "streams"):
        for path in (ROOT / pkg).rglob("*.py"):
            out.update(CJK.findall(path.read_text(encoding="utf-8")))
    return out


def build(weight: str, source: Path, text: set[str]) -> Path:
    """Subset one weight of the SC face to WOFF2."""
    collection = TTCollection(str(source))
    font = next(f for f in collection.fonts if f["name"].getDebugName(4).startswith(SC_INDEX_NAME))
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["kern", "liga", "calt", "locl", "tnum", "pnum", "palt"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[ord(c) for c in text])
    sub.subset(font)
    out = HERE / f"NotoSansSC-{weight}.woff2"
    font.flavor = "woff2"
    font.save(str(out))
    return out


def main() -> int:
    text = gb2312() | project_chars() | set(EXTRA) | {chr(c) for c in range(0x20, 0x7F)}
    for weight, source in SOURCES.items():
        out = build(weight, source, text)
        print(f"{out.name}: {out.stat().st_size / 1e6:.2f} MB, {len(text)} characters requested")
    return 0


if __name__ == "__main__":
    sys.exit(main())
