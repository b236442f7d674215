"""LLM answers over verified spans, with a scripted fake model: citations, the support check, fallback."""
from __future__ import annotations

import pytest

from conftest import assert_quotes_verbatim
from rag.llm import PROVIDERS
from rag.llm.cite import build_messages, check_answer, check_sentence, parse_citations
from rag.llm.followup import deterministic_rewrite, needs_context, valid_rewrite

SPANS = [
    "Over the past five years, the diplomatic sector secured over 258 million doses and saved "
    "the state budget more than US$900 million.",
    "Việt Nam also secured membership in nine key UNESCO mechanisms.",
    "Deputy Director Nguyễn Văn Hùng said exports rose.",
]
Q = "How much did vaccine diplomacy save the state budget?"


# -- pure functions ------------------------------------------------------------------
def test_parse_citations_forms_and_invalid_numbers():
    sents = parse_citations("It saved US$900 million [1]. Also nine mechanisms [2, 7][3]. [9]", 3)
    assert [s.cites for s in sents] == [[1], [2, 3]]
    assert sents[1].invalid == [7, 9]
    assert sents[0].text == "It saved US$900 million."
    assert parse_citations("Budget savings [Source 2].", 3)[0].cites == [2]


def test_check_renumbers_in_order_of_citation_and_drops_missing_numbers():
    c = check_answer("Việt Nam joined nine key UNESCO mechanisms [2][5]. The budget saved more "
                     "than US$900 million [1].", SPANS, Q)
    assert c.ok, c.reason
    assert c.used == [1, 0]  # source 2 first, then source 1
    assert c.text == ("Việt Nam joined nine key UNESCO mechanisms [1]. The budget saved more than "
                      "US$900 million [2].")
    assert c.dropped == [5]


def test_only_invalid_citations_fail():
    c = check_answer("It saved more than US$900 million [4].", SPANS, Q)
    assert not c.ok and "do not exist" in c.reason


def test_no_citation_fails():
    assert not check_answer("It saved more than US$900 million.", SPANS, Q).ok


def test_number_not_in_cited_span_fails():
    why = check_sentence("It saved more than US$950 million.", [SPANS[0]], Q)
    assert why and "950" in why
    # the number exists, but in another span than the one cited
    assert "258" in check_sentence("It secured 258 million doses.", [SPANS[1]], Q)
    assert check_sentence("It saved more than US$900 million.", [SPANS[0]], Q) is None


def test_name_not_in_cited_span_fails_and_diacritics_fold():
    assert "Hanoi" in check_sentence("Hanoi saved US$900 million for the state budget.", [SPANS[0]], Q)
    assert check_sentence("Nguyen Van Hung said exports rose.", [SPANS[2]], "Who said exports rose?") is None
    assert check_sentence("Vietnam secured membership in nine UNESCO mechanisms.", [SPANS[1]],
                          "Which mechanisms?") is None  # Vietnam == Việt Nam


def test_unrelated_sentence_fails_overlap():
    why = check_sentence("The weather in the capital was sunny and warm.", [SPANS[0]], Q)
    assert why and "content words" in why


def test_uncited_sentence_borrows_next_citation():
    c = check_answer("The diplomatic sector saved the budget money. It saved more than US$900 million [1].", SPANS, Q)
    assert c.ok, c.reason
    bad = check_answer("Hanoi won the football match. It saved US$900 million [1].", SPANS, Q)
    assert not bad.ok


def test_model_saying_it_does_not_know_falls_back():
    assert not check_answer("The sources do not say [1].", SPANS, Q).ok


def test_prompt_numbers_the_sources():
    msgs = build_messages(Q, SPANS[:2], hint="more than US$900 million", hint_source=1)
    user = msgs[-1]["content"]
    assert "[1] Over the past" in user and "[2] Việt Nam" in user and Q in user
    assert "US$900" in user.split("Key fact")[1]


def test_deterministic_rewrite_brings_in_the_previous_topic():
    hist = [{"role": "user", "content": "How many vaccine doses did Vietnam secure?"},
            {"role": "assistant", "content": "over 258 million doses"}]
    assert needs_context("And how much did that save the state budget?")
    assert not needs_context("How many vaccine doses did Vietnam secure?")
    assert not needs_context("And how many EU member states ratified the agreement?")
    assert needs_context("And the budget?") and needs_context("What about Laos?")
    r = deterministic_rewrite(hist, "And how much did that save the state budget?")
    assert r.startswith("How much did that save the state budget")
    assert "vaccine" in r and "doses" in r
    # an LLM rewrite must keep the follow-up's words, add context, and invent no names
    f = "And how much did that save the state budget?"
    assert valid_rewrite("How much did the vaccine doses save the state budget?", hist, f)
    assert not valid_rewrite("How much did vaccine doses save?", hist, f)  # lost "state budget"
    assert not valid_rewrite("How much did that save the state budget?", hist, f)  # no context
    assert not valid_rewrite("How much did Laos save the state budget with vaccine?", hist, f)


# -- through the Assistant, with a scripted model -------------------------------------
class ScriptedLLM:
    """A fake ChatModel that replies with a fixed text, in small pieces."""

    name = "scripted"

    def __init__(self, reply: str):
        self.reply, self.calls = reply, []

    def stream(self, messages, max_tokens=None):
        self.calls.append(messages)
        for i in range(0, len(self.reply), 7):
            yield self.reply[i:i + 7]


@pytest.fixture()
def scripted(monkeypatch):
    box = {}

    def install(reply: str) -> ScriptedLLM:
        box["llm"] = ScriptedLLM(reply)
        return box["llm"]

    monkeypatch.setitem(PROVIDERS, "scripted", lambda settings: box["llm"])
    return install


def _source_of(messages, text: str) -> int:
    """The number the prompt gave to the source containing `text`."""
    for line in messages[-1]["content"].splitlines():
        if line.startswith("[") and text in line:
            return int(line[1:line.index("]")])
    raise AssertionError(f"{text!r} not in the prompt")


def test_llm_answer_cites_verified_spans(bundled_assistant, scripted):
    q = "How much did vaccine diplomacy save the state budget?"
    # first pass: learn which number the prompt gives the US$900 million span
    probe = scripted("x")
    bundled_assistant.ask(q, llm="scripted")
    n = _source_of(probe.calls[0], "US$900 million")
    llm = scripted(f"Vaccine diplomacy saved the state budget more than US$900 million [{n}][9].")
    items = list(bundled_assistant.ask_stream(q, llm="scripted"))
    ans = items[-1]
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert "".join(items[:-1]) == llm.reply  # the deltas, as written
    assert ans.path == "llm", ans.fallback_reason
    assert ans.text == "Vaccine diplomacy saved the state budget more than US$900 million [1]."
    assert len(ans.quotes) == 1 and "US$900 million" in ans.quotes[0].text
    assert_quotes_verbatim(bundled_assistant, ans)
    assert "first_token_ms" in ans.timings and "llm_ms" in ans.timings


def test_unsupported_number_falls_back_to_extractive(bundled_assistant, scripted):
    q = "How much did vaccine diplomacy save the state budget?"
    scripted("Vaccine diplomacy saved the state budget US$2 billion [1].")
    ans = bundled_assistant.ask(q, llm="scripted")
    ref = bundled_assistant.ask(q, llm="none")
    assert ans.path == "extractive-fallback" and "2" in ans.fallback_reason
    assert ans.text == ref.text and [x.start for x in ans.quotes] == [x.start for x in ref.quotes]
    assert ref.path == "extractive"
    assert_quotes_verbatim(bundled_assistant, ans)


def test_invented_name_falls_back(bundled_assistant, scripted):
    q = "How much did vaccine diplomacy save the state budget?"
    probe = scripted("x")
    bundled_assistant.ask(q, llm="scripted")
    n = _source_of(probe.calls[0], "US$900 million")
    scripted(f"Minister Obama saved the state budget more than US$900 million [{n}].")
    ans = bundled_assistant.ask(q, llm="scripted")
    assert ans.path == "extractive-fallback" and "Obama" in ans.fallback_reason


def test_abstention_does_not_call_the_model(bundled_assistant, scripted):
    llm = scripted("Cambodia got 5 million doses [1].")
    ans = bundled_assistant.ask("Who won the football match on Saturday?", llm="scripted")
    assert ans.abstained and llm.calls == [] and ans.path == "extractive"


def test_chat_rewrites_follow_up_without_llm(bundled_assistant):
    hist = [{"role": "user", "content": "How many vaccine doses did Vietnam secure?"},
            {"role": "assistant", "content": "over 258 million doses"}]
    ans = bundled_assistant.chat(hist, "And how much did that save the state budget?", llm="none")
    assert ans.question == "And how much did that save the state budget?"
    assert ans.rewritten_question and "vaccine" in ans.rewritten_question
    assert not ans.abstained and "900" in ans.short.text
    assert any("US$900 million" in q.text for q in ans.quotes)


def test_unknown_backend_is_a_config_error(bundled_assistant):
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="RAG_LLM__BACKEND"):
        bundled_assistant.ask("How many vaccine doses did Vietnam secure?", llm="gpt-9")


def test_answer_must_state_the_extractive_figure_when_given():
    ok = check_answer("It saved more than US$900 million [1].", SPANS, Q, expected="more than US$900 million")
    assert ok.ok, ok.reason
    other = check_answer("It secured over 258 million doses [1].", SPANS, Q, expected="more than US$900 million")
    assert not other.ok and "900" in other.reason


def test_conflicting_sources_require_every_side():
    from types import SimpleNamespace

    from rag.answer import Answer
    from rag.answering.extract import QuestionType
    from rag.answering.llm_writer import expected_values

    ev = SimpleNamespace(qtype=QuestionType("number"))
    from rag.answer import Conflict, Quote

    q = Quote("d", "t", "s", 0, 1, "x")
    ex = Answer("q", "The sources differ", conflicts=[Conflict("over 600 international agreements", None, None, "value", q),
                                                        Conflict("over 400 cooperation agreements", None, None, "value", q)])
    exp = expected_values(ev, ex, None)
    texts = ["Localities signed over 600 international agreements.", "They signed over 400 cooperation agreements."]
    q = "How many agreements did localities sign?"
    assert not check_answer("Localities signed over 600 international agreements [1].", texts, q, expected=exp).ok
    assert check_answer("Localities signed over 600 international agreements [1], or over 400 cooperation "
                        "agreements [2].", texts, q, expected=exp).ok


def test_number_words_count_as_figures():
    q = "How many key UNESCO mechanisms did Vietnam secure membership in?"
    assert check_sentence("Vietnam secured membership in 9 key UNESCO mechanisms.", [SPANS[1]], q) is None
    c = check_answer("Vietnam promoted 25 heritage sites recognised by UNESCO [1].",
                     ["Viet Nam promoted 25 heritage sites recognised by UNESCO."], q,
                     expected="nine key UNESCO mechanisms")
    assert not c.ok and "9" in c.reason
