"""Corroboration and conflicts in the real browser, over the four-article
conflict corpus: the user sees which outlets disagree, with each side quoted
and clickable to its exact characters."""
from __future__ import annotations

from pathlib import Path

import pytest

from ui_helpers import ask, chromium_page, parse_ref, running_app, shot, wait_ready

pytestmark = pytest.mark.timeout(600)

CORPUS = Path(__file__).resolve().parent / "data" / "conflict_corpus"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from rag import Assistant

    a = Assistant(index_dir=tmp_path_factory.mktemp("ui-conflict-index"))
    assert not a.ingest([CORPUS]).refused
    with running_app(a) as (demo, url):
        yield a, url


def test_conflicting_figures_are_shown_side_by_side_and_open_in_the_reader(app):
    assistant, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        msg = ask(page, "How much did the bridge's renovation cost?")
        assert "sources differ" in msg.locator(".rag-text").inner_text().lower()
        box = msg.locator(".rag-conflict")
        assert box.is_visible()
        sides = box.locator(".rag-side")
        assert sides.count() >= 2
        values = [sides.nth(i).locator(".rag-side-value").inner_text() for i in range(sides.count())]
        assert any("$4.2 million" in v for v in values) and any("$1.6 million" in v for v in values), values
        outlets = {sides.nth(i).locator(".rag-meta").inner_text() for i in range(sides.count())}
        assert len(outlets) >= 2  # each side names its own outlet and date
        shot(page, "11-conflict")

        side = sides.nth(1)
        doc_id, start, end = parse_ref(side.get_attribute("class"))
        doc = assistant.document(doc_id)
        side.click()
        page.wait_for_selector("#rag-reader mark#rag-hl")
        assert page.locator("#rag-reader mark#rag-hl").evaluate("e => e.textContent") == doc.text[start:end]
        assert values[1] in doc.text[start:end]


def test_corroborated_answer_is_marked_with_every_source(app):
    assistant, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        msg = ask(page, "How much emergency aid did the council approve for victims' families?")
        assert "$500,000" in msg.locator(".rag-text").inner_text()
        support = msg.locator(".rag-support")
        assert support.is_visible() and "Reported by 2 articles" in support.inner_text()
        docs = {parse_ref(msg.locator(".rag-quote").nth(i).get_attribute("class"))[0]
                for i in range(msg.locator(".rag-quote").count())}
        assert len(docs) >= 2  # quotes from each supporting article, not the same one twice
        shot(page, "12-corroborated")
