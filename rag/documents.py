"""The document model: what an article is once loaded."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Optional


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    source: str  # file path or URL (internal: shown as public_source(source))
    text: str
    date: Optional[str] = None
    outlet: Optional[str] = None
    sha256: str = ""  # hash of the source file's bytes (change detection)
    # Where the article's content starts: text[:body_start] is a leading dateline
    # ("date 2025-11-10 HÀ NỘI — ") read into date/place, not content. Chunks (and so
    # quotes) start at or after it; 0 when the text opens with content.
    body_start: int = 0
    place: Optional[str] = None  # the dateline's place, as written ("HÀ NỘI")

    def to_dict(self, with_text: bool = False) -> dict:
        d = asdict(self)
        if not with_text:
            d.pop("text")
        return d


def public_source(source: str) -> str:
    """Where an article came from, as it may be shown outside this machine: a URL as
    given, a file as its name only ("report.txt", "feed.jsonl#L12"), never the
    absolute path of a file on the server."""
    source = str(source or "")
    if re.match(r"^[a-z][a-z0-9+.-]*://", source, re.I):
        return source
    return PurePath(source).name if source else ""


def slugify(value: str, max_len: int = 80) -> str:
    from .textnorm import fold

    slug = re.sub(r"[^a-z0-9]+", "-", fold(value)).strip("-")
    return slug[:max_len].strip("-") or "doc"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
