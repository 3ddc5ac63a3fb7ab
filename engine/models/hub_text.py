"""Text from the hub made safe to show: terminal escapes, control and bidi characters removed.

A hub, a mirror set by ``HF_ENDPOINT`` or a file's own header can carry ANSI/OSC escape
sequences that retitle, clear or recolour a terminal, line breaks that forge a line of
output, and bidirectional overrides that make a name read as another. Hearth checks such
text where it parses it, so the command line and the window both get clean text.
"""

from __future__ import annotations

import re
import unicodedata

#: Characters kept of one piece of hub text (a date, part of an error message): enough for
#: any real value, and no screenful of junk from a hub that sends one.
MAX_TEXT = 300
#: Terminal escape sequences (ECMA-48), removed whole so their parameters do not remain:
#: CSI (ESC [ or 0x9b ... final byte), OSC/DCS/SOS/PM/APC strings (ESC ] P X ^ _ or their
#: 8-bit forms, up to BEL or ST), and two-byte ESC sequences.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
#: Bidirectional overrides and isolates: they reorder what a terminal or label shows
#: (CVE-2021-42574, "Trojan Source").
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Hub text made safe to print: no escape sequences, control or bidi characters.

    Escape sequences go whole; other control characters (line breaks and tabs included,
    which could forge a line of output) become spaces; the result is cut to ``limit``
    characters.
    """
    text = _ESCAPES.sub("", text)
    text = "".join(
        " " if unicodedata.category(c) == "Cc" else c for c in text if c not in _BIDI
    ).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_plain(text: str) -> bool:
    """No control, bidi or escape character: the text prints as it reads."""
    return not any(unicodedata.category(c) == "Cc" or c in _BIDI for c in text)
