"""Issue 20, item 4: the running UI, driven over raw HTTP the way gradio's own page and a
hostile client talk to it (POST /gradio_api/queue/join, GET /gradio_api/queue/data, /run,
/call, /upload), not only through gradio_client.

- the page's own functions (remove, ingest, the article list) are refused from clients that
  did not load the page, on every route gradio dispatches functions from; the page still works;
- with login configured they also need the login;
- the public `ask` stays callable and its answers carry no absolute server path;
- the Host header is checked; cross-site POSTs are refused; no /openapi.json;
- uploads need the page, stay within a per-client quota and are deleted once ingested.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from ui_helpers import chromium_page, running_app, wait_ready

pytestmark = pytest.mark.timeout(900)

QUOTA_MB = 0.3


@pytest.fixture(scope="module")
def assistant(bundled_index_copy):
    from rag import Assistant

    return Assistant(index_dir=bundled_index_copy("exposure-index"), bootstrap=True)


@pytest.fixture(scope="module")
def app(assistant):
    with running_app(assistant, upload_quota_mb=QUOTA_MB, allowed_hosts="news.example.org") as (demo, url):
        yield demo, url


# -- a raw gradio client ---------------------------------------------------------------
def fn_index(demo, api_name: str) -> int:
    return next(i for i, f in demo.fns.items() if f.api_name == api_name)


def join(http: httpx.Client, demo, api_name: str, data: list, session: str, **kw) -> httpx.Response:
    body = {"data": data, "fn_index": fn_index(demo, api_name), "session_hash": session,
            "event_data": None, "trigger_id": None}
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    # json.dumps escapes non-ASCII ("\\ud800" stays a JSON escape, as a hostile client sends it)
    return http.post("/gradio_api/queue/join", content=json.dumps(body), headers=headers, **kw)


def result(http: httpx.Client, session: str, event_id: str, **kw) -> dict:
    """Read the queue's event stream until this event completes; its last message."""
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, **kw) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                return msg
    raise AssertionError("the event never completed")


def call(http, demo, api_name, data, **kw) -> dict:
    session = uuid.uuid4().hex[:11]
    r = join(http, demo, api_name, data, session, **kw)
    assert r.status_code == 200, (r.status_code, r.text)
    return result(http, session, r.json()["event_id"], **kw)


def load_page(http: httpx.Client) -> None:
    r = http.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert any(c.startswith("rag-page-") for c in http.cookies), dict(http.cookies)


def doc_ids(assistant) -> set[str]:
    return {d["doc_id"] for d in assistant.documents()}


# -- the page's own functions --------------------------------------------------------------
def test_private_functions_are_refused_without_the_page(app, assistant):
    demo, url = app
    victim = sorted(doc_ids(assistant))[0]
    before = doc_ids(assistant)
    with httpx.Client(base_url=url, timeout=60) as http:
        session = uuid.uuid4().hex[:11]
        for name, data in (("tick", []), ("remove", [victim]), ("ingest", [None])):
            r = join(http, demo, name, data, session)
            assert r.status_code == 403, (name, r.status_code, r.text)
            assert "page" in r.json()["error"]
        idx = fn_index(demo, "remove")
        attempts = [
            ("/gradio_api/run/predict", {"data": [victim], "fn_index": idx, "session_hash": session}),
            ("/gradio_api/run/remove", {"data": [victim], "session_hash": session}),
            ("/gradio_api/api/remove", {"data": [victim]}),
            ("/gradio_api/call/remove", {"data": [victim]}),
            ("/gradio_api/call/v2/remove", {"doc_id": victim}),
            ("/gradio_api/queue/join", {"data": [victim], "session_hash": session}),  # no fn_index
            ("/gradio_api/queue/join", b"{not json"),
        ]
        # gradio picks the function by the name in the path on /call (ignoring a fn_index in
        # the body) but by fn_index on /run, /api and the queue: naming the public `ask` in one
        # place and a private function in the other must not get through (tick first, as the
        # page does, so that the dropdown would accept the victim)
        ask = fn_index(demo, "ask")
        for name, data in (("tick", []), ("remove", [victim])):
            attempts += [(f"/gradio_api/call/{name}", {"data": data, "fn_index": ask, "session_hash": session}),
                         (f"/gradio_api/call/{name}/", {"data": data, "fn_index": ask, "session_hash": session}),
                         (f"/gradio_api/call/v2/{name}", {"doc_id": victim, "fn_index": ask}),
                         (f"/gradio_api/run/{name}", {"data": data, "fn_index": ask, "session_hash": session}),
                         ("/gradio_api/run/ask", {"data": data, "fn_index": fn_index(demo, name),
                                                  "session_hash": session}),
                         ("/gradio_api/queue/join", {"data": data, "fn_index": str(fn_index(demo, name)),
                                                     "session_hash": session})]
        for path, body in attempts:
            r = http.post(path, content=body) if isinstance(body, bytes) else http.post(path, json=body)
            assert r.status_code == 403, (path, body, r.status_code, r.text)
        # every other route that runs something on the server needs the page too
        for path in ("/gradio_api/component_server", "/gradio_api/process_recording", "/gradio_api/reset",
                     "/gradio_api/cancel", "/gradio_api/stream/abc", "/gradio_api/stream/abc/close",
                     "/gradio_api/upload_progress", "/gradio_api/profiling/clear"):
            r = http.post(path, json={"session_hash": session, "fn_index": ask, "data": [],
                                      "component_id": 0, "fn_name": "x", "event_hash": "abc"})
            assert r.status_code == 403, (path, r.status_code, r.text)
        assert http.post("/gradio_api/upload", files={"files": ("a.txt", b"The mill employs 5 people.")}
                         ).status_code == 403
    assert doc_ids(assistant) == before


def test_the_page_itself_can_still_remove(app, assistant, tmp_path):
    """The same remove call succeeds once the client has loaded the page (what a browser does)."""
    demo, url = app
    extra = tmp_path / "harbour-2025-12-01-cranes.txt"
    extra.write_text("Harbour report\n\nThe Vellmar harbour bought 6 new cranes in November.\n", encoding="utf-8")
    assert assistant.ingest([extra]).added == ["harbour-2025-12-01-cranes"]
    with httpx.Client(base_url=url, timeout=120) as http:
        load_page(http)
        session = uuid.uuid4().hex[:11]
        r = join(http, demo, "tick", [], session)  # fills the dropdown's choices, as the page does
        assert r.status_code == 200, r.text
        assert result(http, session, r.json()["event_id"])["success"]
        r = join(http, demo, "remove", ["harbour-2025-12-01-cranes"], session)
        assert r.status_code == 200, r.text
        msg = result(http, session, r.json()["event_id"])
        assert msg["success"], msg
        assert "Removed" in json.dumps(msg["output"])
    assert "harbour-2025-12-01-cranes" not in doc_ids(assistant)


def test_login_is_required_for_writes_when_set(assistant):
    with running_app(assistant, username="ann", password="s3cret") as (demo, url):
        victim = sorted(doc_ids(assistant))[0]
        with httpx.Client(base_url=url, timeout=120) as http:
            load_page(http)  # the login page: the page cookie alone is not a login
            session = uuid.uuid4().hex[:11]
            assert join(http, demo, "remove", [victim], session).status_code == 401
            assert http.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 401
            r = http.post("/login", data={"username": "ann", "password": "s3cret"})
            assert r.status_code == 200, r.text
            load_page(http)
            r = join(http, demo, "tick", [], session)
            assert r.status_code == 200 and result(http, session, r.json()["event_id"])["success"]
        assert victim in doc_ids(assistant)


# -- the public API ----------------------------------------------------------------------------
def test_public_ask_is_open_and_shows_no_server_path(app, assistant):
    demo, url = app
    idx = str(Path(assistant.settings.index_dir).resolve())
    with httpx.Client(base_url=url, timeout=120) as http:
        msg = call(http, demo, "ask", ["How many vaccine doses did Vietnam secure?"])
        assert msg["success"], msg
        answer = msg["output"]["data"][0]
        assert "258 million" in answer["text"]
        raw = json.dumps(msg)
        for q in answer["quotes"] + answer["closest"]:
            assert q["source"].endswith(".txt") and "/" not in q["source"], q["source"]
            assert assistant.document(q["doc_id"]).text[q["start"]:q["end"]] == q["text"]
        assert idx not in raw and "/rag/data/articles" not in raw
        # gradio's simple route and gradio_client reach it too
        r = http.post("/gradio_api/call/ask", json={"data": ["How many vaccine doses did Vietnam secure?"]})
        assert r.status_code == 200, r.text
    from gradio_client import Client

    d = Client(url, verbose=False, download_files=False).predict("How many vaccine doses did Vietnam secure?",
                                                                  api_name="/ask")
    assert "258 million" in d["text"] and all("/" not in q["source"] for q in d["quotes"])


@pytest.mark.parametrize("question", ["\ud800 How many doses?", "How many doses? \udcff"])
def test_undecodable_question_over_http_is_a_clear_error(app, question):
    demo, url = app
    with httpx.Client(base_url=url, timeout=120) as http:
        msg = call(http, demo, "ask", [question])
        assert msg["success"] is False
        err = msg["output"].get("error")
        assert err and "not valid text" in err and "UTF-8" in err, msg
        # bytes that are not UTF-8 at all in the request body: a 4xx, never a 500
        body = b'{"data": ["How many \xff doses?"], "fn_index": %d, "session_hash": "abcdefghijk"}' % \
            fn_index(demo, "ask")
        r = http.post("/gradio_api/queue/join", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (r.status_code, r.text)


def test_api_errors_carry_no_server_path(tmp_path):
    """An error the API answers with (here: the index folder cannot be opened, a message
    that names it) reaches the client without the server's absolute path."""
    import time

    from rag.settings import Settings
    from rag.web.app import launch
    from ui_helpers import free_port

    bad = tmp_path / "secret-area" / "index"
    bad.parent.mkdir()
    bad.write_text("not an index folder", encoding="utf-8")
    demo, url = launch(settings=Settings(), index_dir=bad, port=free_port(), block=False, quiet=True)
    try:
        holder = demo.rag_holder
        end = time.time() + 120
        while holder.error is None and time.time() < end:
            time.sleep(0.2)
        assert holder.error and str(tmp_path) in holder.error, holder.error  # the server knows where
        with httpx.Client(base_url=url, timeout=120) as http:
            msg = call(http, demo, "ask", ["How many doses?"])
            r = http.post("/gradio_api/call/ask", json={"data": ["How many doses?"]})
            streamed = http.get(f"/gradio_api/call/ask/{r.json()['event_id']}").text
        assert msg["success"] is False and "could not be opened" in msg["output"]["error"], msg
        for text in (json.dumps(msg), streamed):
            assert "could not be opened" in text and str(tmp_path) not in text and "secret-area" not in text, text
    finally:
        demo.close()


# -- host, origin, API pages -------------------------------------------------------------------
def test_host_header_is_checked(app):
    _, url = app
    port = httpx.URL(url).port
    with httpx.Client(base_url=url, timeout=60) as http:
        for host in (f"evil.example:{port}", "attacker.test", f"127.0.0.2:{port}"):
            r = http.get("/", headers={"host": host})
            assert r.status_code == 400, (host, r.status_code)
            assert "RAG_UI__ALLOWED_HOSTS" in r.json()["error"]
            assert http.post("/gradio_api/upload", headers={"host": host},
                             files={"files": ("a.txt", b"x")}).status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "news.example.org"):
            assert http.get("/", headers={"host": host}).status_code == 200, host


def test_allowed_hosts_setting_from_the_environment(assistant, monkeypatch):
    """RAG_UI__ALLOWED_HOSTS as a user sets it: read by Settings, applied by `rag serve`'s
    launch. Bound to 127.0.0.5 (not a loopback *name*), the server answers to its bind
    address, loopback names and the listed hosts, and refuses any other Host by name."""
    from rag.settings import Settings
    from rag.web.app import launch
    from ui_helpers import free_port

    monkeypatch.setenv("RAG_UI__ALLOWED_HOSTS", "intranet.example, News-Desk.lan")
    settings = Settings().model_copy(update={"index_dir": assistant.settings.index_dir})
    demo, url = launch(settings=settings, host="127.0.0.5", port=free_port(), block=False,
                       assistant=assistant, quiet=True)
    try:
        port = httpx.URL(url).port
        assert url.startswith("http://127.0.0.5:"), url
        with httpx.Client(base_url=url, timeout=60) as http:
            for host in (f"127.0.0.5:{port}", f"localhost:{port}", "intranet.example",
                         f"news-desk.lan:{port}", "NEWS-DESK.LAN"):
                r = http.get("/", headers={"host": host})
                assert r.status_code == 200 and "text/html" in r.headers["content-type"], (host, r.status_code)
            for host in ("evil.example", f"intranet.example.evil.test:{port}", f"127.0.0.6:{port}",
                         "news.example.org"):  # the last: allowed by the other server's setting only
                r = http.get("/", headers={"host": host})
                assert r.status_code == 400, (host, r.status_code)
                err = r.json()["error"]
                assert repr(host) in err and "RAG_UI__ALLOWED_HOSTS" in err, err
    finally:
        demo.close()


def test_cross_site_posts_are_refused(app, assistant):
    demo, url = app
    victim = sorted(doc_ids(assistant))[0]
    with httpx.Client(base_url=url, timeout=60) as http:
        load_page(http)  # even with the page's cookie (a browser would not send it cross-site)
        for origin in ("http://evil.example", "null", f"http://localhost:{httpx.URL(url).port + 1}"):
            r = join(http, demo, "remove", [victim], uuid.uuid4().hex[:11], headers={"origin": origin})
            assert r.status_code == 403, (origin, r.status_code)
    assert victim in doc_ids(assistant)


def test_no_openapi_or_docs_pages(app):
    _, url = app
    with httpx.Client(base_url=url, timeout=60) as http:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert http.get(path).status_code == 404, path


# -- uploads ---------------------------------------------------------------------------------
def test_upload_quota_per_client(app):
    _, url = app
    from gradio.utils import get_upload_folder

    part = b"The quarry shipped 5,150 tonnes of granite. " * 2300  # ~0.1 MB
    root = Path(get_upload_folder())
    with httpx.Client(base_url=url, timeout=60) as http:
        load_page(http)
        codes = [http.post("/gradio_api/upload", files={"files": (f"q{i}.txt", part)}).status_code
                 for i in range(4)]
        assert codes[:2] == [200, 200] and 413 in codes[2:], codes
        r = http.post("/gradio_api/upload", files={"files": ("q9.txt", part)})
        assert r.status_code == 413 and "RAG_UI__UPLOAD_QUOTA_MB" in r.json()["error"]
        # a refused upload is refused before its body is read: nothing of it is stored
        stored = [p.name for p in root.rglob("*") if p.is_file()]
        refused = [f"q{i}.txt" for i, c in enumerate(codes) if c == 413] + ["q9.txt"]
        assert not set(refused) & set(stored), (refused, stored)
        assert {"q0.txt", "q1.txt"} <= set(stored)  # the accepted ones are (until ingested or an hour)

        def chunked():  # no Content-Length: the size cannot be checked before reading
            yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nab\r\n--x--\r\n"
        r = http.post("/gradio_api/upload", content=chunked(),
                      headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 411, r.status_code


def test_uploads_are_deleted_once_ingested(assistant, tmp_path):
    """Through the browser: the uploaded file lands in <index>/uploads, gradio's copy is gone."""
    from gradio.utils import get_upload_folder

    f = tmp_path / "mill-2025-12-03-kelvar-mill.txt"
    f.write_text("Kelvar mill\n\nThe Kelvar mill employs 312 people.\n", encoding="utf-8")
    with running_app(assistant) as (demo, url):
        assert demo.delete_cache == (600, 3600)  # never-ingested uploads go within the hour
        root = Path(get_upload_folder())
        before = {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
        with chromium_page() as page:
            wait_ready(page, url)
            page.get_by_role("tab", name="Articles").click()
            page.locator("#rag-upload input[type=file]").set_input_files(str(f))
            page.locator("#rag-ingest-msg", has_text="Added").wait_for()
        left = {p for p in root.rglob("*") if p.is_file()} - before
        assert not [p for p in left if p.name == f.name], left
    kept = Path(assistant.settings.index_dir) / "uploads" / f.name
    assert kept.read_text(encoding="utf-8") == f.read_text(encoding="utf-8")
    assistant.remove("mill-2025-12-03-kelvar-mill")


def test_allowed_hosts_and_guard_are_part_of_every_launch():
    import socket

    from rag.settings import Settings
    from rag.web.app import launch_kwargs
    from rag.web.guard import ExposureGuard, allowed_hosts

    assert allowed_hosts("127.0.0.1", None) == ["127.0.0.1", "localhost", "::1"]
    from rag.web.guard import ExposurePolicy

    assert ExposurePolicy(allowed_hosts("127.0.0.1", "*"), 1).any_host
    assert not ExposurePolicy(allowed_hosts("127.0.0.1", "a.example"), 1).any_host
    assert allowed_hosts("10.1.2.3", " News.Example.org , [fd00::1]") == \
        ["127.0.0.1", "localhost", "::1", "10.1.2.3", "news.example.org", "fd00::1"]
    wild = allowed_hosts("0.0.0.0", None)
    assert socket.gethostname().lower() in wild and "0.0.0.0" not in wild
    s = Settings()
    s = s.model_copy(update={"ui": s.ui.model_copy(update={"allowed_hosts": "news.example.org",
                                                           "upload_quota_mb": 7})})
    kw = launch_kwargs(s)
    (mw,) = kw["app_kwargs"]["middleware"]
    assert mw.cls is ExposureGuard and kw["app_kwargs"]["openapi_url"] is None
    policy = mw.kwargs["policy"]
    assert "news.example.org" in policy.hosts and policy.quota == 7_000_000


def test_page_shows_titles_without_bidi_controls_and_messages_without_paths():
    """Indexes built before titles were cleaned still show them readably; error messages
    (the index folder, a lock holder's command line) lose their absolute paths."""
    from rag.documents import Document
    from rag.web import render

    doc = Document("d", "\u202etxt.exe lessY dam", "/srv/news/in/dam.txt", "The dam holds 7500 cubic metres.",
                   "2025-11-10", "V\u200bNS")
    html = render.render_reader(doc, 4, 7) + render.render_docs_table([{"doc_id": "d", "title": doc.title,
                                                                          "outlet": doc.outlet}])
    assert "txt.exe lessY dam" in html and "VNS" in html and "dam.txt" in html
    assert not any(c in html for c in "\u202e\u200b") and "/srv/news" not in html
    assert "\u202e" not in render.render_user("How many?\u202e")
    msg = render.render_error("The index at /srv/news/index is being written by pid 7 (rag ingest "
                              "/home/ann/feeds/a.jsonl); see http://127.0.0.1:8080/v1")
    assert "/srv" not in msg and "/home" not in msg and "a.jsonl" in msg and "http://127.0.0.1:8080/v1" in msg
    assert "/srv" not in render.render_status("Opening the index in /srv/news/index", False)
