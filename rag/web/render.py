"""Answers, articles and reports as safe HTML for the web UI.

The one rule: everything that comes from an article (text, titles, outlets,
dates, ids) or from a user goes through ``html.escape`` and is never rendered
as markdown or HTML. The only markup in the output is the markup built here.
Clickable quotes carry their location in class names (``rag-ref rag-d-<hex doc
id> rag-s-<start> rag-e-<end>``: the chat's sanitizer keeps classes); a small
script in the page turns a click into "open this span in the reader".
"""
from __future__ import annotations

import re
from html import escape
from pathlib import PurePath
from typing import Any, Iterable, Mapping, Optional

from ..answer import Answer, Quote
from ..documents import Provenance, public_source
from ..provenance import source_label
from ..textclean import clean_label, strip_invisible

_MARKER = re.compile(r"\[(\d{1,2})\]")

ABSTAIN_TITLE = "The articles don't say"


def esc(value: Any) -> str:
    """Text as inert HTML: no tag, attribute or entity from it survives."""
    return escape("" if value is None else str(value), quote=True)


# An absolute path ("/srv/news/index", "/home/ann/feed.jsonl#L3"): not inside a URL
# ("http://host/x") or a relative path ("a/b").
_ABS_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"<>]+/)*([^\s/'\"<>]*)")


def public_text(message: Any) -> str:
    """A message for the page or the API with every absolute server path cut to its last
    part: no path of the machine leaves it (error messages name the index folder, a
    lock holder's command line, a source file)."""
    return _ABS_PATH.sub(lambda m: m.group(1) or "/", "" if message is None else str(message))


def label(value: Any) -> str:
    """A title, outlet or file name as one line without invisible characters (a right-to-left
    override would show it reversed). Indexes built before loaders cleaned titles hold such."""
    return clean_label("" if value is None else str(value), 500)


def _q(q: Quote | Mapping[str, Any], key: str) -> Any:
    return q.get(key) if isinstance(q, Mapping) else getattr(q, key)


def ref_classes(doc_id: str, start: int, end: int, short: Optional[tuple[int, int]] = None) -> str:
    """Where a quote stands, as class names (the chat's HTML sanitizer drops data-* attributes):
    rag-d-<hex of the doc id's UTF-8> rag-s-<start> rag-e-<end>, and rag-a-/rag-b- for the short
    answer inside it (shown bold in the reader pane)."""
    out = f"rag-d-{str(doc_id).encode('utf-8').hex()} rag-s-{int(start)} rag-e-{int(end)}"
    if short is not None:
        out += f" rag-a-{int(short[0])} rag-b-{int(short[1])}"
    return out


def short_inside(q: Quote | Mapping[str, Any], short: Optional[Quote]) -> Optional[tuple[int, int]]:
    """The short answer's offsets when it lies inside quote q (same article), else None."""
    if short is None or _q(q, "doc_id") != short.doc_id:
        return None
    if _q(q, "start") <= short.start and short.end <= _q(q, "end") and (short.start, short.end) != (
            _q(q, "start"), _q(q, "end")):
        return short.start, short.end
    return None


def parse_ref_classes(classes: str) -> Optional[tuple[str, int, int]]:
    """The inverse of ref_classes (used by tests; the page does the same in JS)."""
    d = s = e = None
    for c in classes.split():
        if c.startswith("rag-d-"):
            d = bytes.fromhex(c[6:]).decode("utf-8")
        elif c.startswith("rag-s-"):
            s = int(c[6:])
        elif c.startswith("rag-e-"):
            e = int(c[6:])
    return None if d is None or s is None or e is None else (d, s, e)


def ref_attrs(q: Quote | Mapping[str, Any], cls: str, short: Optional[tuple[int, int]] = None) -> str:
    """Attributes that make an element open its quote in the reader when clicked."""
    return (f'class="{cls} rag-ref {ref_classes(_q(q, "doc_id"), _q(q, "start"), _q(q, "end"), short)}" '
            'role="button" tabindex="0"')


def _bold(text: str, offset: int, short: Optional[tuple[int, int]]) -> str:
    """Escaped text (starting at document offset `offset`) with the short answer in <strong>."""
    if short is None:
        return esc(text)
    a, b = short[0] - offset, short[1] - offset
    if not (0 <= a < b <= len(text)):
        return esc(text)
    return f'{esc(text[:a])}<strong class="rag-short">{esc(text[a:b])}</strong>{esc(text[b:])}'


def _provenance(q: Quote | Mapping[str, Any]) -> Optional[Provenance]:
    p = _q(q, "provenance")
    return Provenance(**p) if isinstance(p, Mapping) else p


def meta_line(q: Quote | Mapping[str, Any]) -> str:
    prov = _provenance(q)
    outlet = _q(q, "outlet")
    parts = [label(x) for x in (source_label(outlet, "", prov) if outlet else None, _q(q, "date")) if x]
    title = label(_q(q, "title") or _q(q, "doc_id"))
    meta = f' <span class="rag-meta-dim">· {esc(" · ".join(parts))}</span>' if parts else ""
    where = f'<div class="rag-meta-dim rag-small rag-prov">{esc(prov.describe())}</div>' if prov else ""
    return f'<span class="rag-meta-title">{esc(title)}</span>{meta}{where}'


def quote_card(q: Quote | Mapping[str, Any], n: Optional[int] = None, kind: str = "quote",
               short: Optional[Quote] = None) -> str:
    label = f'<span class="rag-num">{n}</span>' if n is not None else ""
    inside = short_inside(q, short)
    return (f'<div {ref_attrs(q, "rag-" + kind, inside)} title="Open in the article">{label}'
            f'<div class="rag-qbody"><div class="rag-qtext">“{_bold(_q(q, "text"), _q(q, "start"), inside)}”</div>'
            f'<div class="rag-meta">{meta_line(q)}</div></div></div>')


def answer_text_html(text: str, quotes: list[Quote]) -> str:
    """Escaped answer text whose [n] markers open quote n."""
    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if 1 <= n <= len(quotes):
            return f'<span {ref_attrs(quotes[n - 1], "rag-cite")} title="Open quote {n}">[{n}]</span>'
        return m.group(0)

    return _MARKER.sub(link, esc(text))


def _footer(answer: Answer) -> str:
    total = (answer.timings or {}).get("total_ms")
    took = f"{total / 1000:.1f} s" if total is not None and total >= 1000 else (
        f"{total:.0f} ms" if total is not None else "–")
    path = answer.path or "extractive"
    label = {"extractive": "extractive (quoted from the articles)", "llm": "written by the language model"}.get(
        path, path)
    return f'<div class="rag-foot">{esc(took)} · {esc(label)}</div>'


def _support_html(answer: Answer) -> str:
    out = []
    for group in answer.support or []:
        if len(group.quotes) < 2:
            continue
        outlets = sorted({q.outlet or q.title or q.doc_id for q in group.quotes})
        out.append(f'<div class="rag-support">✓ Reported by {len(group.quotes)} articles'
                   f' <span class="rag-meta-dim">({esc(", ".join(str(o) for o in outlets))})</span></div>')
    return "".join(out)


def _conflicts_html(answer: Answer) -> str:
    if not answer.conflicts:
        return ""
    cards = []
    for c in answer.conflicts:
        q = c.quote.to_dict()
        who = " · ".join(str(x) for x in (c.quote.source_label, c.date) if x)
        cards.append(f'<div {ref_attrs(q, "rag-side")} title="Open in the article">'
                     f'<div class="rag-side-value">{esc(c.value)}</div>'
                     f'<div class="rag-meta">{esc(who)}</div>'
                     f'<div class="rag-qtext rag-small">“{esc(c.quote.text)}”</div></div>')
    return ('<div class="rag-conflict"><div class="rag-conflict-title">⚠ The sources differ</div>'
            f'<div class="rag-sides">{"".join(cards)}</div></div>')


def _abstain_words(answer: Answer) -> str:
    """The plain-words reason (the title already says the articles do not answer)."""
    return answer.abstain_reason.words if answer.abstain_reason else answer.text


def render_answer(answer: Answer) -> str:
    """One finished answer: text with clickable markers, quotes, conflicts, footer."""
    rewritten = ""
    if answer.rewritten_question and answer.rewritten_question != answer.question:
        rewritten = f'<div class="rag-rewritten">Read as: {esc(answer.rewritten_question)}</div>'
    if answer.abstained:
        closest = "".join(quote_card(q, kind="closest") for q in answer.closest)
        closest_html = (f'<div class="rag-section">Closest passages — not an answer, for reading</div>{closest}'
                        if closest else "")
        return (f'<div class="rag-msg rag-abstain">{rewritten}'
                f'<div class="rag-abstain-title">{ABSTAIN_TITLE}</div>'
                f'<div class="rag-abstain-text">{esc(_abstain_words(answer))}</div>'
                f'{closest_html}{_footer(answer)}</div>')
    quotes = "".join(quote_card(q, n, short=answer.short) for n, q in enumerate(answer.quotes, start=1))
    quotes_html = f'<div class="rag-section">Sources</div>{quotes}' if quotes else ""
    warnings = "".join(f'<div class="rag-conflict rag-warning">⚠ {esc(w.words)}</div>' for w in answer.warnings)
    if answer.lead:  # an extractive answer: its parts are typed fields
        # the answer itself large; the sentence it stands in (quote [1]) smaller beneath it
        body = answer_text_html(answer.lead, answer.quotes)
        if answer.context:
            body += f'<div class="rag-context">{answer_text_html(answer.context, answer.quotes)}</div>'
    else:  # an LLM answer: its text, the warnings shown as their own block
        text = answer.text
        for w in answer.warnings:
            text = text.replace(f"\n\n⚠ {w.words}", "")
        body = answer_text_html(text, answer.quotes)
    return (f'<div class="rag-msg rag-answer">{rewritten}'
            f'<div class="rag-text">{body}</div>{warnings}'
            f'{_support_html(answer)}{_conflicts_html(answer)}{quotes_html}{_footer(answer)}</div>')


def render_streaming(text: str) -> str:
    return f'<div class="rag-msg rag-answer"><div class="rag-text">{esc(text)}<span class="rag-caret">▍</span></div></div>'


def render_pending(label: str = "Reading the articles…") -> str:
    return f'<div class="rag-msg rag-pending"><span class="rag-dots"></span>{esc(label)}</div>'


def render_user(question: str) -> str:
    return f'<div class="rag-user">{esc(strip_invisible(question or ""))}</div>'


def render_error(message: str) -> str:
    return f'<div class="rag-msg rag-error">{esc(public_text(message))}</div>'


READER_EMPTY = ('<div class="rag-reader rag-reader-empty"><div class="rag-reader-hint">'
                'Click a quote or a marker like <span class="rag-cite">[1]</span> to read it in its article.'
                '</div></div>')


BACK_LABELS = {"answer": "← Back to the answer", "articles": "← Back to the articles"}


def render_reader(doc, start: Optional[int] = None, end: Optional[int] = None,
                  short: Optional[tuple[int, int]] = None, back: Optional[str] = None) -> str:
    """The whole article, escaped, with text[start:end] wrapped in <mark id="rag-hl"> (and the
    short answer inside it, if given, in <strong>).

    `back` ("answer" or "articles") adds a link back to where the article was opened from
    (on a phone the reader sits below the chat, far from the quote that was clicked)."""
    text = doc.text
    meta = " · ".join(label(x) for x in (doc.outlet, doc.date, getattr(doc, "place", None)) if x)
    src = label(public_source(doc.source)) if doc.source else ""
    back_html = (f'<span class="rag-back rag-back-{back}" role="button" tabindex="0">{esc(BACK_LABELS[back])}</span>'
                 if back in BACK_LABELS else "")
    head = (f'<div class="rag-reader-head">{back_html}'
            f'<div class="rag-reader-title">{esc(label(doc.title or doc.doc_id))}</div>'
            f'<div class="rag-meta">{esc(meta)}{" · " if meta and src else ""}'
            f'<span class="rag-meta-dim">{esc(src)}</span></div></div>')
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (f'{esc(text[:start])}<mark id="rag-hl" class="rag-hl" data-start="{start}" data-end="{end}">'
                f'{_bold(text[start:end], start, short)}</mark>{esc(text[end:])}')
        where = f'<div class="rag-reader-where">Highlighted: characters {start}–{end}</div>'
    else:
        body, where = esc(text), ""
    return f'<div class="rag-reader">{head}{where}<div class="rag-reader-body">{body}</div></div>'


def render_reader_error(message: str) -> str:
    return f'<div class="rag-reader rag-reader-empty"><div class="rag-error">{esc(public_text(message))}</div></div>'


def render_docs_table(docs: Iterable[Mapping[str, Any]]) -> str:
    """The indexed articles; a title opens its article in the reader (whole, nothing highlighted)."""
    docs = list(docs)
    if not docs:
        return '<div class="rag-empty">No articles indexed yet. Upload some below.</div>'
    rows = "".join(
        f'<tr><td class="rag-td-title"><span class="rag-doclink rag-ref {ref_classes(d.get("doc_id"), 0, 0)}" '
        f'role="button" tabindex="0" title="Open in the reader">{esc(label(d.get("title") or d.get("doc_id")))}</span>'
        f'<div class="rag-meta-dim rag-small rag-docid">{esc(d.get("doc_id"))}</div></td>'
        f'<td class="rag-td-outlet">{esc(label(d.get("outlet")) or "–")}'
        f'<div class="rag-meta-dim rag-small rag-prov">{esc(d.get("provenance_text") or "")}</div></td>'
        f'<td class="rag-nowrap">{esc(label(d.get("date")) or "–")}</td>'
        f'<td class="rag-num-cell">{esc(d.get("chunks") if d.get("chunks") is not None else "–")}</td></tr>'
        + (f'<tr class="rag-clash"><td colspan="4" class="rag-conflict">⚠ {esc(d["clash"])}</td></tr>'
           if d.get("clash") else "")
        for d in docs)
    return (f'<div class="rag-docs-count">{len(docs)} article{"s" if len(docs) != 1 else ""} indexed'
            ' · click a title to read it</div>'
            '<table class="rag-docs"><thead><tr><th>Title</th><th>Outlet</th><th>Date</th>'
            f'<th class="rag-num-cell">Chunks</th></tr></thead><tbody>{rows}</tbody></table>')


def render_ingest_report(report: Mapping[str, Any], too_big: Iterable[tuple[str, str]] = ()) -> str:
    """What an upload did: added, updated, unchanged, refused (with reasons)."""
    lines = []
    for key, what, cls in (("added", "Added", "ok"), ("updated", "Updated", "ok"),
                           ("skipped", "Unchanged (already indexed)", "dim"),
                           ("kept", "Kept as indexed (the new version is unreadable)", "dim")):
        items = report.get(key) or []
        if items:
            lines.append(f'<div class="rag-report-{cls}">{what}: {esc(", ".join(items))}</div>')
    refused = [(r["source"], r["reason"]) for r in report.get("refused") or []] + list(too_big)
    if refused:
        items = "".join(f"<li><b>{esc(label(PurePath(str(s)).name))}</b>: {esc(public_text(r))}</li>"
                        for s, r in refused)
        lines.append(f'<div class="rag-report-bad">Refused:<ul>{items}</ul></div>')
    if not lines:
        lines.append('<div class="rag-report-dim">Nothing to ingest.</div>')
    return f'<div class="rag-report">{"".join(lines)}</div>'


def render_status(message: str, ready: bool, error: bool = False) -> str:
    cls = "rag-status-error" if error else ("rag-status-ready" if ready else "rag-status-busy")
    spinner = "" if ready or error else '<span class="rag-dots"></span>'
    return f'<div class="rag-status {cls}">{spinner}{esc(public_text(message))}</div>'
