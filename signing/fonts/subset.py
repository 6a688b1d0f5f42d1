"""How NotoSans-Vietnamese.ttf was made (run by hand when the font changes, not at run time):
Debian's fonts-noto-core NotoSans-Regular.ttf cut down to what a Vietnamese signature stamp needs
(Latin, Vietnamese letters and their combining marks, digits, punctuation), keeping the layout
tables the shaper uses. A full Noto Sans made a visible signature ~9x slower than an invisible
one (fontTools parses all of it); this subset is ~1/10 of its size.

    python signing/fonts/subset.py /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

UNICODES = [
    *range(0x20, 0x7F),  # Basic Latin
    *range(0xA0, 0x100),  # Latin-1 (à á â ã è é ê ì í ò ó ô õ ù ú ý)
    0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169,  # Ă ă Đ đ Ĩ ĩ Ũ ũ
    0x1A0, 0x1A1, 0x1AF, 0x1B0,  # Ơ ơ Ư ư
    *range(0x300, 0x324),  # combining marks (a name typed in decomposed form)
    *range(0x1EA0, 0x1EFA),  # Latin Extended Additional: the rest of Vietnamese
    0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026, 0x2022,  # dashes, quotes, …, •
]  # fmt: skip


def main(source: str) -> None:
    out = Path(__file__).with_name("NotoSans-Vietnamese.ttf")
    options = subset.Options()
    # Kerning and mark placement only, for Latin: every table the font keeps is parsed again
    # each time a stamp embeds its own subset (the full set of features tripled the cost).
    # Vietnamese letters are precomposed glyphs here, and stamp text is normalized to NFC.
    options.layout_features = ["kern", "mark", "mkmk", "ccmp", "locl"]
    options.layout_scripts = ["latn", "DFLT"]
    options.hinting = False  # a stamp is printed or zoomed, never rasterized at 9 px on screen
    options.name_IDs = ["*"]  # keep the copyright and OFL notice in the font itself
    options.notdef_outline = True
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=UNICODES)
    subsetter.subset(font)
    subset.save_font(font, str(out), options)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
