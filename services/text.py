"""What people type, cleaned of characters that only hide or disguise it.

Control characters (a bell, an escape), right-to-left overrides and isolates, zero-width
spaces and joiners, byte-order marks: none of them is part of an enterprise's name or a
plan, they are invisible in the chat, and some of them break a spreadsheet or make a name
read differently from what is stored. They are dropped where text comes in (the router,
spreadsheet imports); line breaks and tabs stay, for the steps that tidy whitespace
themselves.
"""

from __future__ import annotations

import re

_HIDDEN = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # C0 controls but tab and line breaks, and DEL
    "\x80-\x9f"  # C1 controls
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; left-to-right and right-to-left marks
    "\u202a-\u202e"  # bidirectional embeddings and overrides
    "\u2060-\u2064"  # word joiner and invisible operators
    "\u2066-\u2069"  # bidirectional isolates
    "\ufeff"  # byte-order mark / zero-width no-break space
    "\ufff9-\ufffb"  # interlinear annotation
    "]"
)


def clean_text(text: str) -> str:
    """``text`` without hidden characters (see the module's docstring)."""
    return _HIDDEN.sub("", text)


def has_hidden(text: str) -> bool:
    return _HIDDEN.search(text) is not None
