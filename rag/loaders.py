"""Load files into Documents: .txt, .md, .html/.htm, .jsonl.

For .txt and .md the document text is exactly the decoded file, less invisible
format and control characters (textclean.py), so for ordinary files every
offset can be checked against the file on disk. HTML keeps visible text only.
Every field of a .jsonl line is checked. Every refusal is an IngestError naming
the file (and line, and field) and what to do.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Optional

from .documents import (FROM_DATELINE, FROM_FILE_NAME, FROM_HTML_HEADING, FROM_HTML_META, FROM_JSONL,
                        FROM_TEXT, Document, Provenance, sha256_bytes, slugify)
from .errors import IngestError
from .textclean import clean_label, has_surrogate, strip_invisible

_DATE_RE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_WORD = re.compile(r"[^\W_]")
# <outlet>-<YYYY-MM-DD>-<slug>.ext, e.g. vns-2025-11-10-mofa-congress.txt
_NAME_RE = re.compile(r"^([a-z0-9]{2,24})-(\d{4}-\d{2}-\d{2})-(.+)$", re.I)


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    refused: list[IngestError] = field(default_factory=list)
    sha256: str = ""


def discover(paths: Iterable[str | Path], extensions: list[str]) -> tuple[list[Path], list[IngestError]]:
    """Expand files and folders into the files to ingest, refusing bad paths."""
    files: list[Path] = []
    refused: list[IngestError] = []
    exts = {e.lower() for e in extensions}
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            refused.append(IngestError(str(raw), "no such file or folder; check the path"))
        elif p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in exts and not any(
                    part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                refused.append(IngestError(str(p), f"folder has no {', '.join(sorted(exts))} files"))
            files.extend(found)
        elif p.suffix.lower() not in exts:
            refused.append(IngestError(
                str(p), f"unsupported file type {p.suffix or '(none)'}; "
                f"use one of {', '.join(sorted(exts))}"))
        else:
            files.append(p)
    # de-duplicate, keep order
    seen: set[Path] = set()
    unique = []
    for f in files:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique, refused


def read_text(path: Path, max_bytes: int) -> tuple[str, bytes]:
    """Decode a text file strictly; refuse empty, binary, oversize or non-UTF-8 files."""
    src = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(src, f"file is {size / 1e6:.1f} MB, over the "
                              f"{max_bytes / 1e6:.1f} MB limit (setting RAG_INGEST__MAX_FILE_MB)")
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(src, f"cannot read file ({e.strerror}); check permissions") from None
    if not data.strip():
        raise IngestError(src, "file is empty; nothing to index")
    if b"\x00" in data[:8192]:
        raise IngestError(src, "looks like a binary file (NUL bytes), not text; "
                          "convert it to .txt/.md/.html first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(src, f"not valid UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
    if not text.strip():
        raise IngestError(src, "file has no text; nothing to index")
    return text, data


def _require_words(src: str, text: str) -> None:
    if not _WORD.search(text):
        raise IngestError(src, "no words found (only symbols, emoji or invisible characters); "
                          "nothing to index")


def _meta_from_name(path: Path) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(outlet, date, humanised slug) from names like vns-2025-11-10-some-slug."""
    m = _NAME_RE.match(path.stem)
    if not m:
        d = _DATE_RE.search(path.stem)
        return None, d.group(1) if d else None, None
    outlet = m.group(1)
    outlet = outlet.upper() if len(outlet) <= 4 else outlet.capitalize()  # VNS, VOV; Harbortimes
    return outlet, m.group(2), m.group(3).replace("-", " ").replace("_", " ")


@dataclass(frozen=True)
class Dateline:
    """A leading dateline: text[:end] is "date 2025-11-10 HÀ NỘI — " and the like."""
    end: int                       # where the content starts (Document.body_start)
    date: Optional[str] = None     # from a "date YYYY-MM-DD" marker
    place: Optional[str] = None    # "HÀ NỘI", as written


# "date 2025-11-10" (the marker some exports put before the place)
_DATE_MARK = re.compile(r"date\s*:?\s+(\d{4}-\d{2}-\d{2})\b\s*", re.I)
# A place of 1-5 capitalised words ("HÀ NỘI", "WASHINGTON, D.C.", "Hà Nội"), an optional
# agency in brackets ("(VNA)"), then a dash: an em/en dash, or a spaced hyphen.
_WORDS = r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?"
_PLACE_DASH = re.compile(rf"({_WORDS}(?:,?[ \t]+{_WORDS}){{0,4}})"
                         r"(?:[ \t]*\(([^()\n]{1,30})\))?(?:[ \t]*[—–][ \t]*|[ \t]+--?[ \t]+)")


def read_dateline(text: str) -> Optional[Dateline]:
    """The dateline the text opens with, if any; None when it opens with content.

    A place counts only in capitals (the news convention: "HÀ NỘI —"), or in any
    capitalised form right after a "date YYYY-MM-DD" marker, so an opening like
    "Officials — including..." stays content.
    """
    i = len(text) - len(text.lstrip())
    date = None
    m = _DATE_MARK.match(text, i)
    if m:
        try:  # stdlib ISO parsing validates the date itself (no 2025-02-30); no fuzzy parser
            date = _dt.date.fromisoformat(m.group(1)).isoformat()  # wanted: only this exact form
        except ValueError:
            m = None
    if m:
        i = m.end()
    place = None
    pm = _PLACE_DASH.match(text, i)
    if pm:
        cand = pm.group(1)
        words = re.findall(r"[^\W\d_]+", cand)
        capitals = cand == cand.upper()
        if words and all(w[0].isupper() for w in words) and (capitals or date):
            place, i = cand.rstrip(", "), pm.end()
    if date is None and place is None:
        return None
    while i < len(text) and text[i].isspace():
        i += 1
    return Dateline(i, date, place)


TITLE_MAX = 90  # a derived title is cut at a word boundary below this many characters


def _shorten(sentence: str, limit: int = TITLE_MAX) -> str:
    """A sentence as a title: whole if short, else cut at a word boundary and never on a
    dangling "with an" (trailing stopwords go), marked with an ellipsis."""
    from .textnorm import STOPWORDS, fold

    s = " ".join(sentence.split())
    if len(s) <= limit:
        return s.rstrip(".")
    words = s[:limit + 1].split(" ")[:-1]
    while len(words) > 3 and fold(words[-1].strip(",;:")) in STOPWORDS:
        words.pop()
    return " ".join(words).rstrip(" ,;:—–-(") + "…"


def _title_from_text(text: str, fallback: Optional[str], path: Path, body_start: int = 0) -> str:
    """The first line when it is a headline (short, and not a dateline); otherwise the
    article's first sentence, shortened at a word boundary; else the file-name slug."""
    return _titled(text, fallback, path, body_start)[0]


def _titled(text: str, fallback: Optional[str], path: Path, body_start: int = 0) -> tuple[str, str]:
    """_title_from_text() and where the title was read from (documents.FROM_*)."""
    from .chunking import split_sentences

    head = text[:body_start + 4000]  # never split a 20 MB text into lines or sentences for a title
    if body_start == 0:
        first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
        first = re.sub(r"^#+\s*", "", first)  # markdown heading
        if 0 < len(first) <= 150:
            return clean_label(first), FROM_TEXT
    sents = split_sentences(head, body_start)
    if sents:
        s, e = sents[0]
        title = _shorten(re.sub(r"^#+\s*", "", head[s:e]))
        if title:
            return clean_label(title), FROM_TEXT
    if fallback:
        return clean_label(fallback[:1].upper() + fallback[1:]), FROM_FILE_NAME
    return path.stem, FROM_FILE_NAME


def load_plain(path: Path, max_bytes: int) -> LoadResult:
    text, data = read_text(path, max_bytes)
    text = strip_invisible(text)  # zero-width, bidi and control characters (textclean.py)
    _require_words(str(path), text)
    outlet, date, slug_title = _meta_from_name(path)
    date_from = FROM_FILE_NAME if date else None
    dl = read_dateline(text)
    body_start = dl.end if dl else 0
    if date is None and dl is not None and dl.date:
        date, date_from = dl.date, FROM_DATELINE
    if date is None:
        m = _DATE_RE.search(text[:300])
        date, date_from = (m.group(1), FROM_TEXT) if m else (None, None)
    title, title_from = _titled(text, slug_title, path, body_start)
    doc = Document(
        doc_id=slugify(path.stem), title=title,
        source=str(path.resolve()), text=text, date=date, outlet=outlet,
        sha256=sha256_bytes(data), body_start=body_start, place=dl.place if dl else None,
        provenance=Provenance(outlet_from=FROM_FILE_NAME if outlet else None, date_from=date_from,
                              title_from=title_from),
    )
    return LoadResult([doc], [], doc.sha256)


def _defuse_html(html: str) -> str:
    """Make markup safe for html.parser in linear time.

    Python's html.parser rescans to the end of the input for every tag that is
    not closed before the next "<" ("<a <a <a ...") and trips over "<![" junk:
    quadratic time (hours for a few MB) or an AssertionError. Here every "<"
    that does not open a well-formed-looking tag, comment or declaration
    becomes the text "&lt;", which is what a browser would show anyway.
    """
    out: list[str] = []
    i, n, gt = 0, len(html), -1
    while i < n:
        j = html.find("<", i)
        if j < 0:
            out.append(html[i:])
            break
        out.append(html[i:j])
        if html.startswith("<!--", j):
            k = html.find("-->", j + 4)
            if k < 0:  # unclosed comment: the rest is comment, never visible
                break
            out.append(html[j:k + 3])
            i = k + 3
            continue
        if gt != -2 and gt <= j:
            gt = html.find(">", j + 1)
            gt = -2 if gt < 0 else gt  # -2: no ">" left anywhere
        lt = html.find("<", j + 1, gt if gt >= 0 else n)
        nxt = html[j + 1:j + 2]
        if gt < 0 or lt >= 0 or not (nxt.isalpha() or nxt in "/!?") or html.startswith("<![", j):
            out.append("&lt;")
            i = j + 1
            continue
        out.append(html[j:gt + 1])
        i = gt + 1
    return "".join(out)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"
                           r"|opacity\s*:\s*0(?![.\d]*[1-9])"
                           r"|(?<![-\w])color\s*:\s*(?:white|#fff(?:fff)?\b|rgba?\(\s*255\s*,\s*255\s*,\s*255\b)", re.I)


def _is_hidden(attrs: dict) -> bool:
    """Elements a reader never sees: hidden, aria-hidden, display:none and the like."""
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))


class _VisibleText(HTMLParser):
    """Collects visible text; drops script/style/hidden elements; blocks become newlines."""

    _SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
              "tr", "table", "section", "article", "header", "footer", "blockquote",
              "pre", "hr", "main", "aside", "nav", "figure", "figcaption", "dd", "dt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.in_title = False
        self.in_h1 = False
        self.title = ""
        self.h1 = ""
        self.date: Optional[str] = None
        self.hidden_tag: Optional[str] = None  # outermost hidden element being skipped
        self.hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.hidden_tag is not None:
            if tag == self.hidden_tag:
                self.hidden_depth += 1
            return
        if tag not in _VOID and _is_hidden(a):
            self.hidden_tag, self.hidden_depth = tag, 1
            return
        if tag == "title":
            self.in_title = True
        if tag == "meta" and self.date is None:
            key = (a.get("name") or a.get("property") or "").lower()
            if key in ("date", "article:published_time", "pubdate", "dc.date"):
                m = _DATE_RE.search(a.get("content") or "")
                self.date = m.group(1) if m else None
        if tag == "time" and self.date is None:
            m = _DATE_RE.search(a.get("datetime") or "")
            self.date = m.group(1) if m else None
        if tag in self._SKIP:
            self.skip_depth += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "h1":
            self.in_h1 = True

    def handle_startendtag(self, tag, attrs):  # <br/>, <div hidden/>: opens nothing
        if self.hidden_tag is None and _is_hidden(dict(attrs)):
            return
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self.hidden_tag is not None:
            if tag == self.hidden_tag:
                self.hidden_depth -= 1
                if self.hidden_depth == 0:
                    self.hidden_tag = None
            return
        if tag == "title":
            self.in_title = False
        if tag in self._SKIP and self.skip_depth:
            self.skip_depth -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "h1":
            self.in_h1 = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data
            return
        if self.skip_depth or self.hidden_tag is not None:
            return
        if self.in_h1:
            self.h1 += data
        self.parts.append(data)

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", ln).strip() for ln in raw.split("\n")]
        out, blank = [], False
        for ln in lines:
            if ln:
                out.append(ln)
                blank = False
            elif not blank and out:
                out.append("")
                blank = True
        return "\n".join(out).strip()


def load_html(path: Path, max_bytes: int) -> LoadResult:
    html, data = read_text(path, max_bytes)
    parser = _VisibleText()
    try:
        parser.feed(_defuse_html(html))
        parser.close()
    except Exception as e:  # html.parser is lenient; be safe on pathological input
        raise IngestError(str(path), f"cannot parse HTML ({e})") from None
    text = strip_invisible(parser.text())
    if not text.strip():
        raise IngestError(str(path), "HTML has no visible text; nothing to index")
    _require_words(str(path), text)
    outlet, date, slug_title = _meta_from_name(path)
    dl = read_dateline(text)
    body_start = dl.end if dl else 0
    title = clean_label(parser.title or parser.h1)
    title_from = FROM_HTML_META if clean_label(parser.title) else FROM_HTML_HEADING
    if not title:
        title, title_from = _titled(text, slug_title, path, body_start)
    date_from = (FROM_HTML_META if parser.date else FROM_FILE_NAME if date
                 else FROM_DATELINE if dl and dl.date else None)
    doc = Document(slugify(path.stem), title, str(path.resolve()), text,
                   parser.date or date or (dl.date if dl else None), outlet, sha256_bytes(data),
                   body_start=body_start, place=dl.place if dl else None,
                   provenance=Provenance(outlet_from=FROM_FILE_NAME if outlet else None, date_from=date_from,
                                         title_from=title_from))
    return LoadResult([doc], [], doc.sha256)


_JSON_TYPE = {dict: "an object", list: "an array", bool: "true/false", int: "a number", float: "a number"}
# field -> (longest value kept, what to write instead); every field but "text" is one line
_FIELD_LIMITS = {"title": 200, "outlet": 100, "date": 40, "url": 2000, "id": 200}


def _jsonl_field(obj: dict, name: str) -> Optional[str]:
    """The value of one optional field as clean text, or None when absent or empty.

    Raises ValueError with the reason when the field is there but unusable: not a
    string ("id" may also be a whole number), or holding a lone surrogate."""
    value = obj.get(name)
    if value is None:
        return None
    if name == "id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        kind = _JSON_TYPE.get(type(value), type(value).__name__)
        want = "a string or a whole number" if name == "id" else "a string"
        raise ValueError(f'"{name}" must be {want}, not {kind}; fix the line')
    if has_surrogate(value):
        raise ValueError(f'"{name}" contains an invalid \\u escape (lone surrogate); fix the line')
    if name == "url":
        value = value.strip()
        if len(value) > _FIELD_LIMITS["url"] or any(c.isspace() for c in value):
            raise ValueError(f'"url" is not a URL (spaces, or over {_FIELD_LIMITS["url"]} characters); '
                             "fix the line")
        return strip_invisible(value) or None
    return clean_label(value, _FIELD_LIMITS[name]) or None


def load_jsonl(path: Path, max_bytes: int) -> LoadResult:
    """One article per line. Every field is checked: a line with an unusable field is
    refused by line number and field; the other lines are still loaded."""
    content, data = read_text(path, max_bytes)
    sha = sha256_bytes(data)
    res = LoadResult(sha256=sha)
    src = str(path.resolve())
    seen_ids: dict[str, int] = {}
    # JSON Lines are separated by "\n" only: str.splitlines() would also cut at U+2028,
    # U+0085 and other characters JSON allows raw inside a string.
    for n, line in enumerate(content.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            res.refused.append(IngestError(where, f"invalid JSON ({e.msg}); fix or remove the line"))
            continue
        except RecursionError:  # "[[[[..." nested deeper than the JSON decoder goes
            res.refused.append(IngestError(where, "invalid JSON (nested too deeply); fix or remove the line"))
            continue
        if not isinstance(obj, dict):
            res.refused.append(IngestError(where, "line is not a JSON object"))
            continue
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            res.refused.append(IngestError(where, 'missing or empty "text" field (a string is required)'))
            continue
        if has_surrogate(text):  # "\ud800" escapes decode to text no store can keep
            res.refused.append(IngestError(where, '"text" contains an invalid \\u escape '
                                                  '(lone surrogate); fix the line'))
            continue
        text = strip_invisible(text)
        if not _WORD.search(text):
            res.refused.append(IngestError(where, 'no words in "text"; nothing to index'))
            continue
        try:
            fields = {name: _jsonl_field(obj, name) for name in _FIELD_LIMITS}
        except ValueError as e:
            res.refused.append(IngestError(where, str(e)))
            continue
        dl = read_dateline(text)
        body_start = dl.end if dl else 0
        title, title_from = (fields["title"], FROM_JSONL) if fields["title"] else _titled(text, None, path, body_start)
        doc_id = slugify(fields["id"]) if fields["id"] else f"{slugify(path.stem)}-{n}"
        if doc_id in seen_ids:
            res.refused.append(IngestError(where, f'duplicate id {doc_id!r} (already used on line '
                                                  f'{seen_ids[doc_id]}); give each article its own "id"'))
            continue
        seen_ids[doc_id] = n
        res.documents.append(Document(doc_id, title, fields["url"] or f"{src}#L{n}", text,
                                      fields["date"] or (dl.date if dl else None), fields["outlet"], sha,
                                      body_start=body_start, place=dl.place if dl else None,
                                      provenance=Provenance(
                                          outlet_from=FROM_JSONL if fields["outlet"] else None,
                                          date_from=FROM_JSONL if fields["date"] else
                                          FROM_DATELINE if dl and dl.date else None,
                                          title_from=title_from)))
    if not res.documents and not res.refused:
        res.refused.append(IngestError(str(path), "no articles in file"))
    return res


LOADERS = {".txt": load_plain, ".md": load_plain, ".html": load_html,
           ".htm": load_html, ".jsonl": load_jsonl}


def load_file(path: Path, max_bytes: int) -> LoadResult:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(str(path), f"unsupported file type {path.suffix}; use one of "
                          f"{', '.join(sorted(LOADERS))}")
    return loader(path, max_bytes)
