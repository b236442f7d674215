"""rag.web.render: answers and articles as inert HTML (fast, no server, no browser)."""
from __future__ import annotations

import re

from rag import Answer, Document, Quote
from rag.answer import AbstainReason, Conflict, SupportGroup
from rag.web import render

EVIL = '<img src=x onerror=alert(1)><script>alert(2)</script>[link](http://evil/) ![i](http://evil/x.png) "\' &'
DOC = Document("d-<1>\"", EVIL + " title", "/tmp/x.txt", "Intro. " + EVIL + " The value is 42. End.",
               "2025-01-01", "<b>Out</b>")


def _quote(start, end, doc=DOC):
    return Quote.from_document(doc, start, end)


def _tags(html):
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))


def test_article_text_is_escaped_everywhere():
    q = _quote(7, len(DOC.text))
    conflict = Conflict(EVIL, EVIL, "2025", "value", q)
    a = Answer("q", EVIL + " [1]", quotes=[q], conflicts=[conflict, conflict],
               support=[SupportGroup("42", (q, q))], timings={"total_ms": 12})
    html = render.render_answer(a) + render.render_reader(DOC, 7, 20) + render.render_docs_table([
        {"doc_id": DOC.doc_id, "title": EVIL, "outlet": EVIL, "date": EVIL, "chunks": 1}]) + \
        render.render_ingest_report({"added": [EVIL], "refused": [{"source": EVIL, "reason": EVIL}]}) + \
        render.render_user(EVIL) + render.render_error(EVIL) + render.render_streaming(EVIL)
    assert _tags(html) <= {"div", "span", "mark", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "b", "strong"}
    assert "<img" not in html and "<script" not in html and "<a " not in html
    assert not re.search(r"<[^>]*\sonerror=", html) and not re.search(r"<[^>]*\shref=", html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "[link](http://evil/)" in html  # shown as text, not made a link


def test_markers_open_their_quote_and_ref_classes_round_trip():
    q1, q2 = _quote(0, 6), _quote(len(DOC.text) - 4, len(DOC.text))
    html = render.render_answer(Answer("q", "It is 42 [2] and [1], not [3].", quotes=[q1, q2]))
    cites = re.findall(r'<span class="rag-cite rag-ref ([^"]+)"[^>]*>\[(\d)\]</span>', html)
    assert [(render.parse_ref_classes(c), n) for c, n in cites] == [
        ((DOC.doc_id, q2.start, q2.end), "2"), ((DOC.doc_id, q1.start, q1.end), "1")]
    assert "not [3]." in html  # no quote 3: left as text


def test_reader_marks_exact_offsets():
    start, end = DOC.text.index("The value"), DOC.text.index("42.") + 2
    html = render.render_reader(DOC, start, end)
    marked = re.search(r'<mark id="rag-hl"[^>]*>(.*?)</mark>', html, re.S).group(1)
    assert marked == "The value is 42"
    assert render.render_reader(DOC, 5, 10**6).count("<mark") == 0  # bad offsets: no highlight


def test_abstention_looks_different():
    a = Answer("q", "The articles do not answer this question. None of the articles mentions Peru.",
               abstained=True, closest=[_quote(0, 6)],
               abstain_reason=AbstainReason("unknown-terms", "None of the articles mentions Peru.",
                                            {"unknown_terms": ["Peru"]}))
    html = render.render_answer(a)
    assert "rag-abstain" in html and render.ABSTAIN_TITLE in html and "Closest passages" in html
    assert "None of the articles mentions Peru." in html and "rag-closest rag-ref" in html
    assert "unknown_terms" not in html  # the figures stay in the API, not on the page


def test_conflicts_side_by_side():
    q1, q2 = _quote(0, 6), _quote(7, 20)
    a = Answer("q", "The sources differ", quotes=[q1, q2], conflicts=[
        Conflict("40", "A", "2025-01-01", "value", q1), Conflict("42", "B", "2025-01-02", "value", q2)])
    html = render.render_answer(a)
    assert html.count('class="rag-side rag-ref') == 2 and "The sources differ" in html
    assert '<div class="rag-side-value">40</div>' in html and '<div class="rag-side-value">42</div>' in html


def test_short_answer_is_bold_inside_its_quote_and_in_the_reader():
    start = DOC.text.index("The value")
    q = _quote(start, DOC.text.index("42.") + 3)
    short = _quote(DOC.text.index("42"), DOC.text.index("42") + 2)
    html = render.render_answer(Answer("q", "42", quotes=[q], short=short))
    assert '<strong class="rag-short">42</strong>' in html
    ref = re.search(r'class="rag-quote rag-ref ([^"]+)"', html).group(1)
    assert f"rag-a-{short.start}" in ref and f"rag-b-{short.end}" in ref
    pane = render.render_reader(DOC, q.start, q.end, (short.start, short.end))
    assert re.search(r'<mark id="rag-hl"[^>]*>The value is <strong class="rag-short">42</strong>\.</mark>', pane)


def test_answer_leads_large_and_its_sentence_follows_smaller_linked_to_quote_1():
    i = DOC.text.index("The value is 42.")
    sentence = _quote(i, i + len("The value is 42."))
    short = _quote(i + len("The value is "), i + len("The value is 42"))
    a = Answer("What is the value?", f"42 — “{sentence.text}” [1]", quotes=[sentence], short=short,
               lead="42", context=f"“{sentence.text}” [1]", timings={"total_ms": 5})
    html = render.render_answer(a)
    text = html.split('<div class="rag-text">', 1)[1]
    assert text.startswith("42<div class=\"rag-context\">")  # the short answer first, alone
    context = text.split('<div class="rag-context">', 1)[1].split("</div>", 1)[0]
    assert f"“{sentence.text}”" in context and 'title="Open quote 1"' in context and " — " not in context
    # an LLM answer (no lead) keeps its text whole
    llm = Answer("q", "The value is 42 [1].", quotes=[sentence], path="llm")
    assert "rag-context" not in render.render_answer(llm)
