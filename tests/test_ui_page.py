"""What a new user meets on the page (issue 18, item 7), in real Chromium.

Refused uploads leave <index>/uploads/; the Articles table never breaks a word in the
Outlet column; a title in the Articles tab opens the article in the reader; at 400 px the
header fits and, after a quote is opened, a link leads back to the answer; the Model field
shows what the chosen backend will use. Screenshots go to tests/artifacts/ (gitignored).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ui_helpers import ask, chromium_page, parse_ref, running_app, shot, wait_ready

pytestmark = pytest.mark.timeout(900)

VOV_ID = "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy"
DANANG = """Da Nang opens its second cruise terminal

The city of Da Nang opened a second cruise terminal at Tien Sa port on Wednesday, 12 November 2025.

The terminal can berth two ships of up to 225,000 tonnes at once, the port authority said.
"""
DANANG_NAME = "danang-2025-11-12-second-cruise-terminal.txt"


@pytest.fixture(scope="module")
def app(bundled_index_copy):
    from rag import Assistant

    a = Assistant(index_dir=bundled_index_copy("ui-page-index"), bootstrap=True)
    with running_app(a) as (demo, url):
        yield a, url


def _uploads(assistant) -> Path:
    return Path(assistant.settings.index_dir) / "uploads"


def _upload(page, path: Path, kind: str) -> str:
    """Upload one file on the Articles tab; wait for the report (kind: ok or bad) naming it."""
    page.locator("#rag-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "([k, name]) => { const r = document.querySelector('#rag-ingest-msg .rag-report-' + k); "
        "return r && r.textContent.includes(name); }", arg=[kind, path.stem])
    return page.locator("#rag-ingest-msg .rag-report").inner_text()


def _line_count(page, selector: str, first_text: bool = False) -> list[int]:
    """Rendered lines of each element's text (a word broken in two makes two lines); with
    first_text, of its first text node only."""
    target = "e.firstChild" if first_text else "e"
    return page.locator(selector).evaluate_all(
        """els => els.map(e => { const r = document.createRange(); r.selectNodeContents(""" + target + """);
                                 const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
                                 return tops.size; })""")


def test_refused_upload_is_deleted_accepted_one_kept(app, tmp_path):
    assistant, url = app
    good = tmp_path / DANANG_NAME
    good.write_text(DANANG, encoding="utf-8")
    empty = tmp_path / "empty-notes.txt"
    empty.write_bytes(b"")
    with chromium_page() as page:
        wait_ready(page, url)
        page.get_by_role("tab", name="Articles").click()
        page.wait_for_selector("#rag-docs table")
        assert "Added" in _upload(page, good, "ok")
        kept = _uploads(assistant) / DANANG_NAME
        assert kept.read_bytes() == good.read_bytes()

        text = _upload(page, empty, "bad")
        assert "empty-notes.txt" in text and "empty" in text.lower()
        assert not (_uploads(assistant) / "empty-notes.txt").exists(), "refused upload left in uploads/"

        # a refused file under the name of an accepted one: refused, and the accepted file survives
        broken = tmp_path / "again" / DANANG_NAME
        broken.parent.mkdir()
        broken.write_bytes(b"\xff\xfe not utf-8 \x00\x00")
        page.get_by_role("tab", name="Ask").click()
        page.get_by_role("tab", name="Articles").click()
        text = _upload(page, broken, "bad")
        assert DANANG_NAME in text
        assert kept.read_bytes() == good.read_bytes(), "the earlier upload was destroyed"
        assert sorted(p.name for p in _uploads(assistant).iterdir()) == [DANANG_NAME]
        doc = assistant.document("danang-2025-11-12-second-cruise-terminal")
        assert doc.text == DANANG and doc.outlet == "Danang"
        shot(page, "18-refused-upload")


def test_articles_table_keeps_words_whole_and_titles_open_the_article(app, tmp_path):
    assistant, url = app
    if not any(d["outlet"] == "Danang" for d in assistant.documents()):
        assistant.ingest([_write(tmp_path / DANANG_NAME, DANANG)])
    for width in (1400, 400):
        with chromium_page(width=width, height=900) as page:
            wait_ready(page, url)
            page.get_by_role("tab", name="Articles").click()
            page.wait_for_function("() => document.querySelectorAll('#rag-docs tbody tr').length === 3")
            outlets = page.locator("#rag-docs td.rag-td-outlet")
            # the outlet, then (on its own line) where it comes from (provenance)
            assert sorted(t.split("\n")[0] for t in outlets.all_inner_texts()) == ["Danang", "VNS", "VOV"]
            assert _line_count(page, "#rag-docs td.rag-td-outlet", first_text=True) == [1, 1, 1], \
                f"outlet broken at {width}px"
            assert _line_count(page, "#rag-docs td.rag-nowrap") == [1, 1, 1], f"date broken at {width}px"
            fit = page.locator("#rag-docs").evaluate(
                "e => [e.querySelector('table').getBoundingClientRect().right, e.getBoundingClientRect().right]")
            assert fit[0] <= fit[1] + 1, f"the table is wider than its pane at {width}px (a column is cut off): {fit}"
            shot(page, f"18-articles-{width}")

            # a title opens its article in the reader, on the Ask tab, whole and unhighlighted
            doc = assistant.document(VOV_ID)
            page.locator("#rag-docs .rag-doclink", has_text=doc.title).click()
            page.wait_for_selector("#rag-reader .rag-reader-title")
            assert page.locator("#rag-reader .rag-reader-title").inner_text() == doc.title
            body = page.locator("#rag-reader .rag-reader-body")
            body.wait_for()
            assert body.evaluate("e => e.textContent") == doc.text
            assert page.locator("#rag-reader mark").count() == 0
            assert page.locator("#rag-question textarea").is_visible()  # the Ask tab is showing
            page.wait_for_timeout(600)
            assert page.locator("#rag-reader .rag-reader-head").evaluate(
                "e => { const r = e.getBoundingClientRect(); return r.top >= -2 && r.top < innerHeight; }")
            shot(page, f"18-article-opened-{width}")
            page.locator("#rag-reader .rag-back-articles").click()
            page.wait_for_selector("#rag-docs table", state="visible")
            assert page.locator("#rag-docs .rag-doclink.rag-active").inner_text() == doc.title


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_narrow_header_fits_and_back_to_the_answer(app):
    assistant, url = app
    with chromium_page(width=400, height=800) as page:
        wait_ready(page, url)
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 400, "page scrolls sideways"
        brand = page.locator("#rag-header .rag-brand")
        status = page.locator("#rag-status .rag-status")
        b, s = brand.bounding_box(), status.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= 400 and s["x"] >= 0 and s["x"] + s["width"] <= 400
        assert _line_count(page, "#rag-header .rag-brand-name") == [1], "brand name wraps"
        assert s["y"] >= b["y"] + b["height"] - 1 or s["x"] >= b["x"] + b["width"], "status overlaps the brand"
        header_h = page.locator("#rag-header").bounding_box()["height"]
        assert header_h < 140, f"header takes {header_h:.0f} px at 400 px"
        shot(page, "18-narrow-header")

        msg = ask(page, "How many vaccine doses did Vietnam secure?")
        quote = msg.locator(".rag-quote").first
        doc_id, start, end = parse_ref(quote.get_attribute("class"))
        quote.click()
        page.wait_for_selector("#rag-reader mark#rag-hl")
        assert page.locator("#rag-reader mark#rag-hl").evaluate("e => e.textContent") == \
            assistant.document(doc_id).text[start:end]
        page.wait_for_timeout(900)  # the reader scrolls into view, far below the chat at 400 px

        def in_view(loc) -> bool:
            return loc.evaluate("e => { const r = e.getBoundingClientRect(); "
                                "return r.bottom > 0 && r.top < innerHeight; }")

        assert not in_view(quote), "at 400 px the reader is below the chat"
        back = page.locator("#rag-reader .rag-back-answer")
        assert back.inner_text() == "← Back to the answer" and in_view(back)
        shot(page, "18-narrow-reader")
        back.click()
        page.wait_for_timeout(600)
        assert in_view(quote), "back did not lead to the quote"
        assert "rag-active" in quote.get_attribute("class")
        shot(page, "18-narrow-back")


def test_header_is_one_row_on_a_desktop(app):
    _, url = app
    with chromium_page(width=1400) as page:
        wait_ready(page, url)
        b = page.locator("#rag-header .rag-brand").bounding_box()
        s = page.locator("#rag-status .rag-status").bounding_box()
        assert s["y"] < b["y"] + b["height"] and s["x"] > b["x"] + b["width"], (b, s)
        name = page.locator("#rag-header .rag-brand-name").bounding_box()
        tagline = page.locator("#rag-header .rag-tagline").bounding_box()
        assert tagline["y"] < name["y"] + name["height"] and tagline["x"] > name["x"] + name["width"]
        shot(page, "18-desktop-header")


def test_model_field_shows_what_the_backend_uses(app):
    from rag.llm import default_model_path
    from rag.web.app import model_field

    assistant, url = app
    llm = assistant.settings.llm
    gguf = default_model_path()
    with chromium_page() as page:
        wait_ready(page, url)
        page.click("#rag-settings")
        field = page.locator("#rag-model textarea, #rag-model input").first
        field.wait_for()

        def pick(backend: str) -> None:
            page.locator("#rag-backend input").click()
            page.get_by_role("option", name=backend, exact=True).click()
            want = model_field(backend, llm)
            page.wait_for_function("([sel, v]) => document.querySelector(sel).value === v",
                                   arg=["#rag-model textarea, #rag-model input", want["value"]])
            # openai and ollama show the same model name: wait for the line under it too ("...
            # sent to the ollama server at ..."), which can update after the value on a busy machine
            page.wait_for_function("([sel, t]) => document.querySelector(sel).innerText.includes(t)",
                                   arg=["#rag-model", want["info"][:28]])

        assert "local-model" not in field.input_value()  # backend none: no model is used
        assert "none" in field.input_value() and field.is_disabled()
        pick("local")
        assert field.input_value() == model_field("local", llm)["value"] != llm.model
        assert field.is_disabled()
        if gguf and field.input_value() == gguf.name:
            assert str(gguf) in page.locator("#rag-model").inner_text()
        shot(page, "18-model-local")
        pick("openai")
        assert field.input_value() == llm.model and field.is_enabled()
        assert llm.base_url in page.locator("#rag-model").inner_text()
        pick("ollama")
        assert "http://127.0.0.1:11434" in page.locator("#rag-model").inner_text()
        pick("none")
        assert field.is_disabled()


# -- fast checks of the markup behind the above (no server, no browser) ------------------------
def test_titles_in_the_table_open_whole_articles_and_the_reader_links_back():
    import re

    from rag import Document
    from rag.web import render

    html = render.render_docs_table([{"doc_id": "a<b", "title": "T <i>", "outlet": "Danang", "date": "2025-11-12",
                                      "chunks": 2}])
    cls = re.search(r'<span class="(rag-doclink rag-ref [^"]+)"', html).group(1)
    assert render.parse_ref_classes(cls) == ("a<b", 0, 0) and "T &lt;i&gt;" in html
    assert '<td class="rag-td-outlet">Danang' in html
    doc = Document("d", "Title", "/x/d.txt", "Some text here.", "2025-11-10", "VNS", place="HÀ NỘI")
    whole = render.render_reader(doc, back="articles")
    assert "rag-back-articles" in whole and "Back to the articles" in whole and "<mark" not in whole
    assert "VNS · 2025-11-10 · HÀ NỘI" in whole
    quoted = render.render_reader(doc, 0, 4, back="answer")
    assert "rag-back-answer" in quoted and "Back to the answer" in quoted and "<mark" in quoted
    assert "rag-back" not in render.render_reader(doc, 0, 4)


def test_model_field_per_backend(tmp_path):
    import importlib.util

    from rag.llm import default_model_path
    from rag.settings import LLMSettings
    from rag.web.app import model_field

    llm = LLMSettings()
    none = model_field("none", llm)
    assert not none["interactive"] and "local-model" not in none["value"]
    local = model_field("local", llm)
    gguf = default_model_path()
    assert not local["interactive"]
    if importlib.util.find_spec("llama_cpp") is None:
        assert local["value"] == "(local backend not installed)"
    else:
        assert local["value"] == (gguf.name if gguf else "(no GGUF model installed)")
        own = tmp_path / "my-model.Q8_0.gguf"
        assert model_field("local", LLMSettings(model_path=str(own)))["value"] == "my-model.Q8_0.gguf"
    openai = model_field("openai", LLMSettings(model="qwen2.5", base_url="http://10.0.0.5:8000/v1"))
    assert openai["interactive"] and openai["value"] == "qwen2.5" and "http://10.0.0.5:8000/v1" in openai["info"]
    assert "http://127.0.0.1:11434" in model_field("ollama", llm)["info"]
