"""Answers from the real pipeline over the bundled articles: figures, quotes, abstention."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import BUNDLED, assert_quotes_verbatim

QUESTIONS = [
    "How much did vaccine diplomacy save the state budget?",
    "How many vaccine doses did Vietnam secure?",
    "How many countries recognised Viet Nam's market economy status?",
    "How many free trade agreements does Vietnam participate in?",
    "How many EU member states ratified the investment protection agreement?",
    "When was the UNESCO International Decade for Culture for Sustainable Development adopted?",
    "Who is the Deputy Director of the Economic Diplomacy Department?",
    "How many political parties does the Party have relations with?",
    "What did Ho Chi Minh say about emulation in the diplomatic sector?",
    "How many official documents on foreign affairs were issued?",
    "What are the three do better directives?",
    "How many doses did Vietnam donate to Cambodia?",
    "Who won the football match?",
]


def test_every_quote_is_verbatim_at_its_offsets(bundled_assistant):
    files = {p.name: p.read_text(encoding="utf-8") for p in BUNDLED.glob("*.txt")}
    answered = 0
    for q in QUESTIONS:
        ans = bundled_assistant.ask(q)
        assert_quotes_verbatim(bundled_assistant, ans)
        shown = ans.quotes + ans.closest
        assert shown, q
        for quote in shown:
            # .txt documents are the file's exact content: offsets hold on disk too
            # (quote.source is the file's name: no server path leaves the server)
            assert files[quote.source][quote.start:quote.end] == quote.text
        answered += not ans.abstained
        assert 1 <= len(ans.quotes) <= 3 or ans.abstained
    assert answered >= 9


def test_budget_saving_figure_with_quote(bundled_assistant):
    ans = bundled_assistant.ask("How much did vaccine diplomacy save the state budget?")
    assert not ans.abstained
    assert "900" in ans.short.text
    assert len(ans.short.text) < 60, "the short answer is the figure, not a paragraph"
    # the text leads with the figure, then the sentence that holds it as quote [1]
    assert ans.text.startswith(ans.short.text) and ans.text.endswith("[1]")
    q1 = ans.quotes[0]
    assert f"“{q1.text}”" in ans.text and q1.start <= ans.short.start and ans.short.end <= q1.end
    # the two parts are typed fields (the UI shows them apart without cutting the text)
    assert ans.lead.startswith(ans.short.text) and ans.context == f"“{q1.text}” [1]"
    assert ans.text == f"{ans.lead} — {ans.context}" and ans.to_dict()["context"] == ans.context
    assert_quotes_verbatim(bundled_assistant, ans)
    assert any("US$900 million" in q.text for q in ans.quotes)
    assert set(ans.timings) >= {"retrieve_ms", "answer_ms", "total_ms"}


def test_count_question_answers_with_the_figure(bundled_assistant):
    ans = bundled_assistant.ask("How many countries recognised Viet Nam's market economy status?")
    assert not ans.abstained and "73" in ans.short.text


def test_name_without_diacritics_finds_article_spelling(bundled_assistant):
    ans = bundled_assistant.ask("What words of Ho Chi Minh did the Prime Minister cite?")
    assert not ans.abstained
    assert any("Hồ Chí Minh" in q.text for q in ans.quotes)
    ans = bundled_assistant.ask("How many key UNESCO mechanisms did Viet Nam secure membership in?")
    assert_quotes_verbatim(bundled_assistant, ans)
    assert "nine" in ans.short.text
    assert any("Việt Nam also secured membership" in q.text for q in ans.quotes)


def test_diacritics_folded_in_retrieval(bundled_assistant):
    from rag.textnorm import terms

    assert terms("Phạm Minh Chính, Việt Nam, Đổi mới") == terms("Pham Minh Chinh, Viet Nam, Doi moi")
    plain = bundled_assistant.ask("What did Pham Minh Chinh say about emulation?")
    accented = bundled_assistant.ask("What did Phạm Minh Chính say about emulation?")
    assert [(q.doc_id, q.start) for q in plain.quotes] == [(q.doc_id, q.start) for q in accented.quotes]


KNOWN_MISS = pytest.mark.xfail(strict=True, reason=(
    "known regression of the learned answer decision (2026-11-25): fitted on SQuAD articles, it gives "
    "little weight to question names the passages lack, and answers with a nearby figure or name"))


@pytest.mark.parametrize("question", [
    pytest.param("How many doses did Vietnam donate to Cambodia?", marks=KNOWN_MISS),
    "Who won the football match on Saturday?",
    pytest.param("What is the name of the new Deputy Foreign Minister?", marks=KNOWN_MISS),
])
def test_abstains_when_articles_do_not_say(bundled_assistant, question):
    ans = bundled_assistant.ask(question)
    assert ans.abstained, ans.text
    assert "do not answer" in ans.text
    assert ans.quotes == []
    assert ans.closest, "the nearest passages are offered for reading"
    assert_quotes_verbatim(bundled_assistant, ans)


def test_answer_to_dict_has_the_documented_shape(bundled_assistant):
    d = bundled_assistant.ask("How many vaccine doses did Vietnam secure?").to_dict()
    assert {"question", "text", "abstained", "quotes", "timings"} <= set(d)
    assert set(d["quotes"][0]) >= {"doc_id", "title", "source", "start", "end", "text"}
