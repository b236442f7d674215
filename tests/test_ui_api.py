"""The web UI's API from gradio_client: the named endpoint "ask" returns Answer.to_dict()."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ui_helpers import running_app

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def app(bundled_index_copy):
    from rag import Assistant

    a = Assistant(index_dir=bundled_index_copy("api-index"), bootstrap=True)
    with running_app(a) as (demo, url):
        yield a, url


def _client(url, **kw):
    """download_files=False: gradio_client (2.x, protocol sse_v3) takes any dict with a string
    "path" key for a file to download, and Answer.to_dict() has "path" ("extractive" | "llm")."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, **kw)


def test_ask_endpoint_returns_answer_with_verbatim_quotes(app):
    assistant, url = app
    d = _client(url).predict("How many vaccine doses did Vietnam secure?", api_name="/ask")
    assert isinstance(d, dict)
    assert set(d) >= {"question", "text", "abstained", "quotes", "closest", "timings", "path"}
    assert not d["abstained"] and "258 million" in d["text"]
    assert d["quotes"]
    for q in d["quotes"] + d["closest"]:
        assert assistant.document(q["doc_id"]).text[q["start"]:q["end"]] == q["text"]
    assert d["timings"]["total_ms"] > 0


def test_ask_endpoint_keyword_argument_and_abstention(app):
    assistant, url = app
    d = _client(url).predict(question="What is the population of Peru?", api_name="/ask")
    assert d["abstained"] is True and d["quotes"] == []
    for q in d["closest"]:
        assert assistant.document(q["doc_id"]).text[q["start"]:q["end"]] == q["text"]


def test_bad_question_is_a_clear_error(app):
    from gradio_client.exceptions import AppError

    _, url = app
    with pytest.raises(AppError, match="empty"):
        _client(url).predict("   ", api_name="/ask")


def test_only_ask_is_public(app):
    _, url = app
    info = _client(url).view_api(print_info=False, return_format="dict")
    assert list(info["named_endpoints"]) == ["/ask"]
    assert not info["unnamed_endpoints"]


def test_concurrent_clients(app):
    assistant, url = app
    questions = ["How many vaccine doses did Vietnam secure?",
                 "How much did vaccine diplomacy save the state budget?"] * 4
    client = _client(url)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda q: client.predict(q, api_name="/ask"), questions))
    assert all(not r["abstained"] and r["quotes"] for r in results)
