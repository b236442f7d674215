"""Invisible characters: what text may carry that a reader never sees.

Zero-width spaces, soft hyphens, bidirectional overrides and isolates, byte
order marks, tag characters (Unicode category Cf) and control characters (Cc,
e.g. terminal escapes) are invisible or act on the display, not on the words:
"7<ZWSP>5" reads as 75 but splits into two numbers, a right-to-left override
shows a title reversed. They are removed from article text, titles and
questions before anything is matched, stored or shown (`strip_invisible`).

Kept: whitespace controls (tab, newlines, form feed), the zero-width
(non-)joiner between two letters or emoji (Persian, Indic scripts, emoji
sequences depend on it) and the visible Arabic number signs (Unicode's
Prepended_Concatenation_Mark). The classes come from the `regex` module's
Unicode properties, not from a hand-written table.

Lone surrogates ("\\ud800", which JSON escapes and undecodable command-line
bytes produce) are not text at all: `has_surrogate` finds them so the input
can be refused with a message instead of failing deep inside a tokenizer or
the store.
"""
from __future__ import annotations

import re

import regex

_NEAR_JOINER = r"[\p{L}\p{M}\p{Extended_Pictographic}]"
_INVISIBLE = regex.compile(
    r"[[\p{Cf}\p{Cc}]--[\p{Prepended_Concatenation_Mark}\u200c\u200d\t\n\x0b\x0c\r\x1c-\x1f\x85]]"
    rf"|(?<!{_NEAR_JOINER})[\u200c\u200d]|[\u200c\u200d](?!{_NEAR_JOINER})",
    regex.V1)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def strip_invisible(text: str) -> str:
    """`text` without invisible format and control characters (see the module doc)."""
    return _INVISIBLE.sub("", text)


def has_surrogate(text: str) -> bool:
    """True when `text` holds a lone surrogate (not encodable as UTF-8)."""
    return _SURROGATE.search(text) is not None


def clean_label(text: str, max_len: int = 200) -> str:
    """A one-line label (title, outlet, date): invisible characters removed, whitespace
    runs (newlines included) collapsed, at most `max_len` characters."""
    return " ".join(strip_invisible(text).split())[:max_len].strip()
