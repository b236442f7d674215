"""The document model: what an article is once loaded."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Optional


# Where a document's outlet, date and title were read from (Provenance.*_from)
FROM_FILE_NAME = "file name"        # vns-2025-11-10-slug.txt
FROM_JSONL = "jsonl field"          # the line's "outlet"/"date"/"title" field, as written by whoever made the file
FROM_HTML_META = "html meta"        # <meta name="date">, <time datetime>, <title>
FROM_HTML_HEADING = "html heading"  # <h1>
FROM_DATELINE = "dateline"          # "date 2025-11-10 HÀ NỘI —"
FROM_TEXT = "text"                  # the first line or sentence, or a date near the start

# Where the file came from (Provenance.origin)
ORIGIN_BUNDLED = "bundled"  # byte for byte a file shipped with the package (rag/data/articles)
ORIGIN_FILE = "file"        # a file or folder given to `rag ingest` / Assistant.ingest
ORIGIN_UPLOAD = "upload"    # uploaded through the web UI (kept in <index>/uploads/)


@dataclass(frozen=True)
class Provenance:
    """Where a document and its outlet, date and title come from. An outlet name is what
    the file claims: only the origin says who supplied the file."""

    origin: str = ORIGIN_FILE
    outlet_from: Optional[str] = None  # None: no outlet
    date_from: Optional[str] = None
    title_from: Optional[str] = None
    added_at: Optional[float] = None   # when it was indexed (Unix time); for uploads, the upload time

    def to_meta(self) -> dict:
        """Flat fields for the store's metadata (None values left out)."""
        return {f"prov_{k}": v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_meta(cls, meta: dict) -> "Provenance":
        return cls(**{k: meta[f"prov_{k}"] for k in cls.__dataclass_fields__ if f"prov_{k}" in meta})

    def outlet_claim(self) -> Optional[str]:
        """How an outlet name read from this source must be qualified when shown: None when
        it is the name of a file the package ships or that was given to ingest; otherwise
        the words saying who claims it ("claimed by a .jsonl field of an upload")."""
        if self.outlet_from is None:
            return None
        parts = []
        if self.outlet_from == FROM_JSONL:
            parts.append("a .jsonl field")
        elif self.origin == ORIGIN_UPLOAD:
            parts.append("the name of an uploaded file")
        if not parts:
            return None
        if self.origin == ORIGIN_UPLOAD and self.outlet_from == FROM_JSONL:
            parts.append("of an upload")
        return "claimed by " + " ".join(parts)

    def describe(self) -> str:
        """One line for people: "bundled file; outlet from file name; date from dateline"."""
        import datetime as _dt

        origin = {ORIGIN_BUNDLED: "bundled file", ORIGIN_FILE: "ingested file",
                  ORIGIN_UPLOAD: "uploaded"}.get(self.origin, self.origin)
        if self.origin == ORIGIN_UPLOAD and self.added_at:
            origin += " " + _dt.datetime.fromtimestamp(self.added_at, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        parts = [origin] + [f"{what} from {src}" for what, src in
                            (("outlet", self.outlet_from), ("date", self.date_from), ("title", self.title_from))
                            if src]
        return "; ".join(parts)


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
    provenance: Provenance = Provenance()  # where outlet, date and title come from

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
