"""The web UI in a real browser (headless Debian Chromium driven by Playwright).

Screenshots go to tests/artifacts/ (gitignored).
"""
from __future__ import annotations

import pytest

from ui_helpers import ask, chromium_page, parse_ref, running_app, shot, wait_ready

pytestmark = pytest.mark.timeout(600)

INVENTED = """Velmora opens glass footbridge over the Tarn gorge

VELMORA — The town of Velmora opened a glass footbridge across the Tarn gorge on Saturday, 29 November 2025.

The bridge is 412 metres long and hangs 96 metres above the river, the town council said.

Mayor Ilse Brandvold said the crossing cost 18.5 million euros and took three years to build.

Engineers from the firm Halvorsen Strukt designed the bridge to carry 1,200 walkers at a time.
"""


@pytest.fixture(scope="module")
def app(bundled_index_copy):
    from rag import Assistant

    a = Assistant(index_dir=bundled_index_copy("ui-index"), bootstrap=True)
    with running_app(a) as (demo, url):
        yield a, url


def test_ask_click_quote_highlights_exact_span(app):
    assistant, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        shot(page, "01-empty")
        msg = ask(page, "How many vaccine doses did Vietnam secure?")
        assert "258 million" in msg.locator(".rag-text").inner_text()
        quotes = msg.locator(".rag-quote")
        assert quotes.count() >= 1
        assert "reported by" in msg.inner_text().lower()
        assert "ms" in msg.locator(".rag-foot").inner_text() or " s " in msg.locator(".rag-foot").inner_text()
        first = quotes.first
        doc_id, start, end = parse_ref(first.get_attribute("class"))
        quote_text = first.locator(".rag-qtext").evaluate("e => e.textContent")
        assert quote_text == f"“{assistant.document(doc_id).text[start:end]}”"
        first.click()
        page.wait_for_selector("#rag-reader mark#rag-hl")
        mark = page.locator("#rag-reader mark#rag-hl")
        assert mark.evaluate("e => e.textContent") == assistant.document(doc_id).text[start:end]
        assert mark.evaluate("e => e.textContent") == quote_text[1:-1]
        # the highlight is scrolled into view inside the reader
        page.wait_for_timeout(900)
        assert mark.evaluate("""m => { const b = m.closest('.rag-reader-body').getBoundingClientRect();
                                       const r = m.getBoundingClientRect();
                                       return r.top >= b.top - 2 && r.top < b.bottom; }""")
        assert page.locator("#rag-reader .rag-reader-title").inner_text() == assistant.document(doc_id).title
        shot(page, "02-answer-reader")


def test_abstention_looks_different_and_closest_passages_open(app):
    assistant, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        msg = ask(page, "What is the population of Peru?")
        assert "rag-abstain" in msg.get_attribute("class")
        assert "The articles don't say" in msg.inner_text()
        closest = msg.locator(".rag-closest")
        if closest.count():
            doc_id, start, end = parse_ref(closest.first.get_attribute("class"))
            closest.first.click()
            page.wait_for_selector("#rag-reader mark#rag-hl")
            assert page.locator("#rag-reader mark#rag-hl").evaluate("e => e.textContent") == \
                assistant.document(doc_id).text[start:end]
        shot(page, "03-abstention")
        page.click("#rag-clear")
        page.wait_for_function("() => document.querySelectorAll('#rag-chat .rag-msg').length === 0")
        assert page.locator("#rag-reader mark").count() == 0


def test_follow_up_and_settings(app):
    _, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        ask(page, "How much did vaccine diplomacy save the state budget?")
        page.click("#rag-settings")  # open the accordion
        page.wait_for_selector("#rag-topk input[type=number]")
        page.fill("#rag-topk input[type=number]", "3")
        page.keyboard.press("Enter")
        msg = ask(page, "And how many doses did it secure?")
        assert msg.locator(".rag-foot").count() == 1, msg.inner_text()
        shot(page, "04-follow-up-settings")


def test_upload_article_then_ask_about_it_then_remove(app, tmp_path):
    assistant, url = app
    f = tmp_path / "vtn-2025-11-30-velmora-glass-bridge.txt"
    f.write_text(INVENTED, encoding="utf-8")
    with chromium_page() as page:
        wait_ready(page, url)
        page.get_by_role("tab", name="Articles").click()
        page.wait_for_selector("#rag-docs table")
        assert page.locator("#rag-docs tbody tr").count() == 2
        page.locator("#rag-upload input[type=file]").set_input_files(str(f))
        page.wait_for_selector("#rag-ingest-msg .rag-report-ok")
        assert "Added" in page.locator("#rag-ingest-msg").inner_text()
        page.wait_for_function("() => document.querySelectorAll('#rag-docs tbody tr').length === 3")
        assert "Velmora opens glass footbridge" in page.locator("#rag-docs").inner_text()
        shot(page, "05-articles-uploaded")

        page.get_by_role("tab", name="Ask").click()
        msg = ask(page, "How long is the glass footbridge in Velmora?")
        # the uploaded article answers at once (whether the reader picks the length or another
        # figure of it is measured by rag eval, not here: it read "29 November 2025" on 2026-11-25)
        assert "rag-abstain" not in msg.get_attribute("class")
        q = msg.locator(".rag-quote").first
        doc_id, start, end = parse_ref(q.get_attribute("class"))
        doc = assistant.document(doc_id)
        assert doc.title == "Velmora opens glass footbridge over the Tarn gorge"
        q.click()
        page.wait_for_selector("#rag-reader mark#rag-hl")
        assert page.locator("#rag-reader mark#rag-hl").evaluate("e => e.textContent") == doc.text[start:end]
        shot(page, "06-uploaded-answer")

        page.get_by_role("tab", name="Articles").click()
        page.locator("#rag-remove-pick input").click()
        page.get_by_role("option", name="Velmora opens glass footbridge", exact=False).click()
        page.click("#rag-remove")
        page.wait_for_function("() => document.querySelectorAll('#rag-docs tbody tr').length === 2")
        assert "Removed" in page.locator("#rag-ingest-msg").inner_text()
    assert all("velmora" not in d["doc_id"] for d in assistant.documents())


def test_refused_upload_shows_reason(app, tmp_path):
    _, url = app
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    with chromium_page() as page:
        wait_ready(page, url)
        page.get_by_role("tab", name="Articles").click()
        page.locator("#rag-upload input[type=file]").set_input_files(str(bad))
        page.wait_for_selector("#rag-ingest-msg .rag-report-bad")
        text = page.locator("#rag-ingest-msg").inner_text()
        assert "empty.txt" in text and "Refused" in text
        shot(page, "07-refused-upload")


class _SlowStream:
    """The real assistant, but its answers arrive in pieces (as an LLM's would)."""

    def __init__(self, assistant):
        self._a = assistant

    def __getattr__(self, name):
        return getattr(self._a, name)

    def ask_stream(self, question, top_k=None, history=None, llm=None):
        import time

        from rag import Answer

        answer = [x for x in self._a.ask_stream(question, top_k=top_k) if isinstance(x, Answer)][-1]
        for word in answer.text.split(" "):
            time.sleep(0.4)
            yield word + " "
        yield answer


def test_page_shows_startup_progress_then_streams_answers(app):
    """Startup: the page is usable at once and shows what is being prepared; answers stream."""
    import threading

    from rag.web.app import AssistantHolder, build_app, launch_kwargs
    from ui_helpers import free_port

    assistant, _ = app
    go = threading.Event()

    def factory(h):
        h.set_status("First start: indexing the bundled articles (1/2: vns.txt)")
        go.wait(60)
        return _SlowStream(assistant)

    holder = AssistantHolder()
    holder.start(factory)
    demo = build_app(holder, assistant.settings)
    demo.queue(default_concurrency_limit=2)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **launch_kwargs(assistant.settings, port=free_port()))
    try:
        with chromium_page() as page:
            page.goto(url)
            busy = page.locator(".rag-status-busy")
            busy.wait_for()
            assert "indexing the bundled articles (1/2" in busy.inner_text()
            page.fill("#rag-question textarea", "How many vaccine doses did Vietnam secure?")
            page.click("#rag-ask")
            page.wait_for_selector("#rag-chat .rag-error")
            assert "still being prepared" in page.locator("#rag-chat .rag-error").inner_text()
            shot(page, "00-starting")
            go.set()
            page.wait_for_selector(".rag-status-ready")
            page.click("#rag-clear")
            page.fill("#rag-question textarea", "How many vaccine doses did Vietnam secure?")
            page.click("#rag-ask")
            page.wait_for_selector("#rag-chat .rag-caret")  # streaming: partial text with a caret
            partial = page.locator("#rag-chat .rag-text").last.inner_text()
            page.wait_for_selector("#rag-chat .rag-foot")
            final = page.locator("#rag-chat .rag-text").last.inner_text()
            assert partial != final and "258 million" in final
            assert page.locator("#rag-chat .rag-caret").count() == 0
    finally:
        go.set()
        demo.close()


def test_new_user_page_examples_answers_and_plain_abstentions(app):
    """Issue 18 items 1-3 as a user meets them: every example the page offers answers, the
    short answer is bold inside its quote, quotes all support the answer (none repeats the
    answer's sentence twice), and an abstention reads as plain words, not figures."""
    from rag.web.app import EXAMPLES

    assistant, url = app
    with chromium_page() as page:
        wait_ready(page, url)
        for q in EXAMPLES:
            msg = ask(page, q)
            assert "rag-abstain" not in msg.get_attribute("class"), (q, msg.inner_text())
            quotes = msg.locator(".rag-quote")
            assert quotes.count() >= 1
            bold = quotes.first.locator("strong.rag-short")
            short = bold.inner_text() if bold.count() else msg.locator(".rag-text").inner_text()
            assert short in msg.locator(".rag-text").inner_text()
            texts = [quotes.nth(i).locator(".rag-qtext").inner_text() for i in range(quotes.count())]
            assert len(texts) == len(set(texts)), texts
        shot(page, "20-examples")
        msg = ask(page, "What is the population of Peru?")
        words = msg.locator(".rag-abstain-text").inner_text()
        assert words and "(" not in words and not any(ch.isdigit() for ch in words), words


def test_the_api_says_the_index_is_being_prepared_without_a_traceback_in_the_log(app, capfd):
    """Calling /ask while the index builds on the first start gets a clear error, and the server
    log gets one line, not gradio's traceback per call."""
    import threading

    from gradio_client import Client

    from rag.web.app import AssistantHolder, build_app, launch_kwargs
    from ui_helpers import free_port

    assistant, _ = app
    go = threading.Event()
    holder = AssistantHolder()
    holder.start(lambda h: (go.wait(60), assistant)[1])
    demo = build_app(holder, assistant.settings)
    demo.queue(default_concurrency_limit=2)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **launch_kwargs(assistant.settings, port=free_port()))
    try:
        client = Client(url, verbose=False, download_files=False)
        capfd.readouterr()
        for _ in range(2):
            with pytest.raises(Exception, match="still being prepared"):
                client.predict("How many vaccine doses did Vietnam secure?", api_name="/ask")
        out, err = capfd.readouterr()
        assert "Traceback" not in out + err, (out + err)[-1500:]
        go.set()
        holder.ready.wait(60)
        answer = client.predict("How many vaccine doses did Vietnam secure?", api_name="/ask")
        assert "258 million" in answer["short"]["text"]
    finally:
        go.set()
        demo.close()
