"""Web UI exposure: hostile article text is inert in the browser, no file outside the app is
reachable, uploads are size-limited, login works when set, safe launch defaults."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ui_helpers import ask, chromium_page, parse_ref, running_app, shot, wait_ready

pytestmark = pytest.mark.timeout(600)

PAYLOAD = ('<img src=x onerror="window.__pwned=1;alert(1)"> <script>window.__pwned=2;alert(2)</script> '
           '[link](http://evil.example/) ![img](http://evil.example/x.png) <a href="http://evil.example/a">click</a>')

HOSTILE_TXT = f"""Zarvian harbour traffic report <img src=x onerror="window.__pwned=3">

The Zarvian harbour handled 7,300 containers in March {PAYLOAD} according to the port authority.

Dock workers at Zarvian unloaded 41 cranes of timber, the port authority said.
"""

HOSTILE_JSONL = {
    "id": "hostile-jsonl", "title": '<img src=x onerror="window.__pwned=4">Quarry <b>news</b>',
    "outlet": "<script>window.__pwned=5</script>EVIL", "date": "2025-12-02",
    "text": "The Brennick quarry shipped 5,150 tonnes of granite in April. " + PAYLOAD + "\n",
}

DOM_CHECK = """() => ({
  pwned: window.__pwned === undefined ? null : window.__pwned,
  badImgs: [...document.querySelectorAll('img')].filter(i => /(^x$|evil)/.test(i.getAttribute('src') || '')).length,
  badScripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__pwned')).length,
  badLinks: [...document.querySelectorAll('a')].filter(a => /evil/.test(a.getAttribute('href') || '')).length,
  onerror: document.querySelectorAll('[onerror]').length,
})"""


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory, bundled_index_copy):
    from rag import Assistant

    arts = tmp_path_factory.mktemp("hostile-articles")
    (arts / "evil-2025-12-01-zarvian-harbour.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    (arts / "more.jsonl").write_text(json.dumps(HOSTILE_JSONL) + "\n", encoding="utf-8")
    a = Assistant(index_dir=bundled_index_copy("hostile-index"), bootstrap=True)
    report = a.ingest([arts])
    assert report.ok and len(report.added) == 2, report.to_dict()
    with running_app(a, max_upload_mb=0.05) as (demo, url):
        yield a, url, demo


def _assert_inert(page, dialogs):
    state = page.evaluate(DOM_CHECK)
    assert state == {"pwned": None, "badImgs": 0, "badScripts": 0, "badLinks": 0, "onerror": 0}, state
    assert dialogs == []


@pytest.mark.parametrize("question,doc_word", [
    ("How many containers did the Zarvian harbour handle in March?", "Zarvian"),
    ("How many tonnes of granite did the Brennick quarry ship in April?", "Brennick"),
])
def test_hostile_article_is_rendered_as_text(hostile_app, question, doc_word):
    assistant, url, _ = hostile_app
    with chromium_page() as page:
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        wait_ready(page, url)
        msg = ask(page, question)
        quote = msg.locator(".rag-quote", has_text=doc_word).first
        doc_id, start, end = parse_ref(quote.get_attribute("class"))
        doc = assistant.document(doc_id)
        # the markup is shown as the article's own characters, not interpreted or dropped
        assert quote.locator(".rag-qtext").evaluate("e => e.textContent") == f"“{doc.text[start:end]}”"
        assert "<img src=x" in quote.inner_text() or "<img src=x" in doc.title
        page.wait_for_timeout(500)
        _assert_inert(page, dialogs)
        quote.click()
        page.wait_for_selector("#rag-reader mark#rag-hl")
        assert page.locator("#rag-reader mark#rag-hl").evaluate("e => e.textContent") == doc.text[start:end]
        assert page.locator("#rag-reader .rag-reader-title").evaluate("e => e.textContent") == doc.title
        assert "[link](http://evil.example/)" in page.locator("#rag-reader .rag-reader-body").inner_text()
        page.get_by_role("tab", name="Articles").click()
        page.wait_for_selector("#rag-docs table")
        assert HOSTILE_JSONL["title"] in page.locator("#rag-docs").inner_text()
        page.get_by_role("tab", name="Ask").click()
        page.wait_for_timeout(500)
        _assert_inert(page, dialogs)
        shot(page, f"08-hostile-{doc_word.lower()}")


def test_no_file_outside_the_app_is_served(hostile_app):
    assistant, url, demo = hostile_app
    idx = Path(assistant.settings.index_dir).resolve()
    inside_index = [p for p in idx.rglob("*") if p.is_file()][:3]
    assert inside_index
    readme = Path(__file__).resolve().parent.parent / "README.md"
    secret = "root:x:0:0"
    paths = ["/etc/passwd", "../../../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
             "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/tmp/gradio/../../etc/passwd",
             f"{idx}/../../../../etc/passwd", str(readme), "README.md", "pyproject.toml",
             *[str(p) for p in inside_index]]
    served = []
    with httpx.Client(base_url=url, timeout=20) as http:
        for p in paths:
            for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/", "/static/", "/assets/"):
                r = http.get(prefix + p)
                if r.status_code == 200 and (secret in r.text or r.content[:64] in
                                             (readme.read_bytes()[:64],)):
                    served.append((prefix + p, r.status_code))
                elif r.status_code == 200 and any(p.endswith(x.name) for x in inside_index) and \
                        r.content and any(r.content == x.read_bytes() for x in inside_index):
                    served.append((prefix + p, r.status_code))
        # the API docs of FastAPI are off; gradio's own "view API" page stays
        assert http.get("/docs").status_code == 404
    assert served == []


def test_upload_over_the_limit_is_refused(hostile_app):
    _, url, _ = hostile_app
    big = b"The harbour report. " * 5000  # 100 kB > 0.05 MB limit
    with httpx.Client(base_url=url, timeout=20) as http:
        # without the page, any upload is refused (issue 20: writes need the page)...
        r = http.post("/gradio_api/upload", files={"files": ("big.txt", big, "text/plain")})
        assert r.status_code == 403, (r.status_code, r.text[:200])
        # ...and a client that loaded the page is refused for the size
        assert http.get("/").status_code == 200
        r = http.post("/gradio_api/upload", files={"files": ("big.txt", big, "text/plain")})
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert "size" in r.text.lower()


def test_upload_over_the_limit_in_browser(hostile_app, tmp_path):
    _, url, _ = hostile_app
    big = tmp_path / "big-2025-12-01-report.txt"
    big.write_text("The harbour report. " * 5000, encoding="utf-8")
    with chromium_page() as page:
        wait_ready(page, url)
        page.get_by_role("tab", name="Articles").click()
        page.locator("#rag-upload input[type=file]").set_input_files(str(big))
        toast = page.locator(".toast-body", has_text="exceed the maximum allowed size")
        toast.wait_for()
        assert "big-2025-12-01-report.txt" in toast.inner_text()
        shot(page, "09-upload-too-big")


def test_safe_launch_defaults():
    from rag.settings import Settings
    from rag.web.app import launch_kwargs

    kw = launch_kwargs(Settings())
    assert kw["server_name"] == "127.0.0.1" and kw["server_port"] == 7860
    assert kw["share"] is False and "auth" not in kw
    assert kw["allowed_paths"] == [] and kw["max_file_size"] == 10 * 1024 * 1024
    assert str(Path("index").resolve()) in kw["blocked_paths"]
    s = Settings()
    s = s.model_copy(update={"ui": s.ui.model_copy(update={"username": "ann", "password": "pw"})})
    assert launch_kwargs(s)["auth"] == ("ann", "pw")


def test_launched_app_is_local_and_unshared(hostile_app):
    _, url, demo = hostile_app
    assert url.startswith("http://127.0.0.1:")
    assert demo.share is False and demo.share_url is None
    assert demo.max_file_size == int(0.05 * 1024 * 1024)


def test_login_required_when_set(bundled_index_copy):
    from gradio_client import Client
    from rag import Assistant

    a = Assistant(index_dir=bundled_index_copy("auth-index"), bootstrap=True)
    with running_app(a, username="ann", password="s3cret") as (_, url):
        with httpx.Client(base_url=url, timeout=20) as http:
            assert http.get("/config").status_code in (401, 403)
            assert http.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code in (401, 403)
            bad = http.post("/login", data={"username": "ann", "password": "wrong"})
            assert bad.status_code in (400, 401)
        with pytest.raises(Exception):
            Client(url, verbose=False, download_files=False)
        c = Client(url, auth=("ann", "s3cret"), verbose=False, download_files=False)
        d = c.predict("How many vaccine doses did Vietnam secure?", api_name="/ask")
        assert "258 million" in d["text"]
        with chromium_page() as page:
            page.goto(url)
            page.wait_for_selector("input[type=password]")
            shot(page, "10-login")
            page.fill("input[type=text], input[name=username]", "ann")
            page.fill("input[type=password]", "s3cret")
            page.keyboard.press("Enter")
            page.wait_for_selector(".rag-status-ready")
